"""`shortcode churn train|evaluate|score|status`, run as a user runs them (a subprocess) on a seeded demo."""
from __future__ import annotations

import json
import re

import pytest

from tests.bot.tools.test_cli import shortcode
from tests.processes import SECRETS


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("churn")
    shortcode("seed", "--demo", "--subscribers", "8000", tmp_path=tmp_path)
    return tmp_path


def test_train_writes_a_readable_tree_and_evaluate_beats_the_naive_rule(seeded):
    tree = seeded / "tree.json"
    out = shortcode("churn", "train", "--tree", str(tree), tmp_path=seeded)
    assert "trained on" in out.stdout and str(tree) in out.stdout
    data = json.loads(tree.read_text())
    assert data["nodes"][0]["feature"] in data["features"] and any("score" in n for n in data["nodes"])
    out = shortcode("churn", "evaluate", "--tree", str(tree), tmp_path=seeded).stdout
    lift = {name: float(value) for name, value in re.findall(r"^(tree: red \+ yellow|naive: spend fell m/m)"
                                                            r"\s+\d+\s+\S+\s+\S+\s+(\S+)$", out, re.M)}
    assert lift["tree: red + yellow"] > 1.2 * lift["naive: spend fell m/m"] > 0, out
    assert re.search(r"against the naive rule: lift .* \(\d+\.\d\dx\)", out), out


def test_score_scores_the_week_of_the_moment_given(seeded):
    out = shortcode("churn", "score", "--at", "2026-12-02T10:00+08:00", tmp_path=seeded).stdout
    assert out.startswith("2026-W49 (usage before 2026-12): 8,000 subscribers scored")


def test_score_queue_hands_the_parts_to_workers_and_status_counts_them(seeded, redis_url):
    env = {"SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_JOBS_QUEUE": f"churn-cli-{seeded.name}", **SECRETS}
    at = ("--at", "2026-12-09T10:00+08:00")
    out = shortcode("churn", "score", *at, "--queue", tmp_path=seeded, **env).stdout
    assert out.startswith("2026-W50 (usage before 2026-12): 16 parts queued for the workers"), out
    assert shortcode("churn", "status", tmp_path=seeded).stdout.splitlines()[0] == \
        "2026-W50: 0/16 parts done, 0 subscribers scored"
    shortcode("worker", "--burst", tmp_path=seeded, **env)
    assert shortcode("churn", "status", "--week", "2026-W50", tmp_path=seeded).stdout == \
        "2026-W50: 16/16 parts done, 8,000 subscribers scored, complete\n"
    again = shortcode("churn", "score", *at, "--queue", tmp_path=seeded, **env).stdout
    assert "0 parts queued for the workers (every part is done)" in again


@pytest.mark.parametrize("args, says", [
    (("churn", "evaluate", "--month", "2026-13"), "shortcode churn evaluate: --month 2026-13: not a month"),
    (("churn", "score", "--at", "monday"), "shortcode churn score: --at monday: not an ISO 8601 moment"),
    (("churn", "status", "--week", "2026-49"), "shortcode churn status: --week 2026-49: not an ISO week"),
    (("churn", "score", "--queue"), "shortcode churn score: --queue needs the workers' Redis"),
    (("churn", "evaluate", "--tree", "/nonexistent.json"), "shortcode churn evaluate: /nonexistent.json: not a "
                                                           "churn tree"),
    (("churn", "train", "--month", "2020-01", "--tree", "/tmp/unused.json"),
     "shortcode churn train: 0 labelled subscribers"),
])
def test_bad_input_is_one_line_and_exit_2(seeded, args, says):
    out = shortcode(*args, tmp_path=seeded, check=False)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().startswith(says) and len(out.stderr.strip().splitlines()) == 1
