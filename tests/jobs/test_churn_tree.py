"""The value-loss tree scored in plain Python: the same scores as scikit-learn's, reasons as the path in the
agent's language, zones by the configured bounds."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from bot.i18n import load_catalogs
from integrations.boss import Usage
from integrations.boss.usage_demo import history
from jobs.churn_eval import Labelled
from jobs.churn_features import FEATURES, features
from jobs.churn_tree import Thresholds, Tree, explain, keep_reasons, zone
from tests.jobs.test_churn_features import FALLING

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = load_catalogs(ROOT / "locale")
SMALL = {"features": list(FEATURES), "nodes": [
    {"id": 0, "feature": "spend_change_pct", "le": -20.0, "yes": 1, "no": 4},
    {"id": 1, "feature": "offnet_pct", "le": 30.0, "yes": 2, "no": 3},
    {"id": 2, "score": 0.4, "n": 10}, {"id": 3, "score": 0.9, "n": 10}, {"id": 4, "score": 0.05, "n": 80}]}


def labelled(n: int, seed: int) -> list[Labelled]:
    subscribers = [(f"+86139{i:08d}", ("regular", "silver", "gold", "diamond")[i % 4]) for i in range(n)]
    return [Labelled(p.label[0], [Usage(*r[1:]) for r in p.usage[-3:]], p.label[2])
            for p in history(subscribers, "2026-12", seed=seed)]


def test_plain_python_scores_equal_scikit_learns_predictions():
    """Trained with scikit-learn (the `ml` extra), written as data, scored without it: the same numbers."""
    pytest.importorskip("sklearn")
    from bot.tools.churn_train import fit, tree_data

    model, _ = fit(labelled(6_000, seed=7))
    tree = Tree(tree_data(model, "2026-12", 6_000))
    rows = [features(r.months) for r in labelled(3_000, seed=8)]
    expected = model.predict_proba(rows)[:, list(model.classes_).index(1)]
    assert [round(tree.score(row)[0], 4) for row in rows] == [round(float(p), 4) for p in expected]


def test_the_shipped_tree_loads_and_names_only_known_features():
    assert Tree.load().score(features(FALLING))[0] > 0.5


def test_a_tree_naming_an_unknown_feature_is_refused():
    bad = {**SMALL, "nodes": [{"id": 0, "feature": "shoe_size", "le": 1, "yes": 1, "no": 2}, *SMALL["nodes"][2:4]]}
    with pytest.raises(ValueError, match="shoe_size"):
        Tree(bad)


def test_reasons_are_the_path_with_the_subscribers_values_in_both_languages():
    score, reasons = Tree(SMALL).score(features(FALLING))
    assert score == 0.9 and reasons == [("spend_change_pct", -42.0), ("offnet_pct", 35.0)]
    assert explain(reasons, "en", CATALOGS) == "spend down 42% over 3 months; calls to other networks 35%"
    assert explain(reasons, "zh_Hans", CATALOGS) == "消费 3 个月下降 42%；异网通话占比 35%"


SHIPPED = Tree.load()
SCORED = SHIPPED.compiled()
CUTS = sorted({n[1] for n in SHIPPED.nodes if n[0] >= 0})  # a value on a split goes left: test those too
VALUE = st.one_of(st.sampled_from(CUTS), st.floats(-200, 200, allow_nan=False), st.integers(-100, 100).map(float))


@settings(max_examples=1_000, deadline=None)
@given(st.lists(VALUE, min_size=len(FEATURES), max_size=len(FEATURES)))
def test_the_compiled_tree_scores_and_keeps_reasons_as_the_data_tree(row):
    """The nested-if function built from the file gives the same leaf and the same kept reasons on any row."""
    score, reasons = SHIPPED.score(row)
    assert SCORED(row) == (score, keep_reasons(reasons))


def test_the_compiled_tree_agrees_on_the_seeded_history():
    for tree in (SHIPPED, Tree(SMALL)):
        scored = tree.compiled()
        for r in labelled(2_000, seed=11):
            row = features(r.months)
            score, reasons = tree.score(row)
            assert scored(row) == (score, keep_reasons(reasons))


def test_features_read_plain_rows_as_they_read_usage():
    """`Boss.usage_rows` hands over plain tuples laid out as `Usage`, the msisdn after them."""
    for r in labelled(500, seed=12):
        assert features([(*m, r.msisdn) for m in r.months]) == features(r.months)


def test_reasons_as_kept_render_the_same_and_rising_spend_says_up():
    assert explain(keep_reasons([("spend_change_pct", 12.4), ("complaints", 2.0)]), "en", CATALOGS) == \
        "spend up 12% over 3 months; 2 complaints in 3 months"
    assert explain([["spend_change_pct", 0.0]], "zh_Hans", CATALOGS) == "消费 3 个月持平"


@pytest.mark.parametrize("score, spend, is_dormant, expected", [
    (0.9, -40.0, True, "white"), (0.6, -40.0, False, "red"), (0.59, -40.0, False, "yellow"),
    (0.35, 0.0, False, "yellow"), (0.2, 5.0, False, "green"), (0.1, -3.0, False, "green"),
    (0.1, 0.0, False, "blue"), (0.0, 25.0, False, "blue")])
def test_zones_follow_the_bounds(score, spend, is_dormant, expected):
    row = [0.0] * len(FEATURES)
    row[FEATURES.index("spend_change_pct")] = spend
    assert zone(score, row, is_dormant, Thresholds(red=0.6, yellow=0.35, green=0.15)) == expected


def test_other_bounds_move_the_zones():
    row = [0.0] * len(FEATURES)
    assert zone(0.5, row, False, Thresholds(red=0.45, yellow=0.3, green=0.1)) == "red"


def test_serve_the_workers_and_the_cli_never_import_scikit_learn():
    """Only `shortcode churn train` needs the `ml` extra: scoring reads the tree file in plain Python."""
    import subprocess
    import sys

    code = ("import sys, bot.web, bot.wiring, bot.tools.cli, jobs.worker, jobs.churn, jobs.churn_eval; "
            "from jobs.churn_tree import Tree; Tree.load(); assert 'sklearn' not in sys.modules, 'sklearn'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
