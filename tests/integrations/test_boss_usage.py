"""The simulated BOSS's usage history: the generator is deterministic and plants churn in its known share;
`Boss.usage` reads it in keyset pages without splitting a subscriber."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.usage_demo import (CHURN_SHARE, DORMANT_SHARE, LOST_IF, MONTHS, RISING_SHARE, history,
                                          months_before)

SUBSCRIBERS = [(f"+86138{i:08d}", ("regular", "silver", "gold", "diamond")[i % 4]) for i in range(20_000)]


def test_months_before_crosses_the_year():
    assert months_before("2027-02", 4) == ["2026-10", "2026-11", "2026-12", "2027-01"]


def test_the_same_subscribers_and_seed_give_the_same_history_and_another_seed_does_not():
    first = list(history(SUBSCRIBERS[:500], "2026-12"))
    assert first == list(history(SUBSCRIBERS[:500], "2026-12"))
    assert first != list(history(SUBSCRIBERS[:500], "2026-12", seed=1))
    assert all(len(p.usage) == MONTHS and [r[1] for r in p.usage] == months_before("2026-12") for p in first)


def test_churn_is_planted_in_its_known_share_and_labels_follow_it():
    planted = list(history(SUBSCRIBERS, "2026-12"))
    kinds = Counter(p.kind for p in planted)
    n = len(planted)
    assert abs((kinds["churner"] + kinds["quiet"]) / n - CHURN_SHARE) < 0.01
    assert abs(kinds["dormant"] / n - DORMANT_SHARE) < 0.005
    assert abs(kinds["rising"] / n - RISING_SHARE) < 0.01
    lost = Counter(p.kind for p in planted if p.label[2])
    assert abs(lost["churner"] / kinds["churner"] - LOST_IF["churner"]) < 0.03
    assert lost["stable"] / kinds["stable"] < 0.06


def test_a_churner_spends_less_and_calls_other_networks_more_at_the_end():
    churners = [p for p in history(SUBSCRIBERS[:2000], "2026-12") if p.kind == "churner"]
    falling = sum(p.usage[-1][2] < p.usage[0][2] for p in churners)
    offnet = sum(p.usage[-1][9] / max(p.usage[-1][8], 1) > p.usage[0][9] / max(p.usage[0][8], 1) for p in churners)
    assert falling == len(churners) > 100 and offnet > 0.9 * len(churners)


def test_usage_pages_hold_whole_subscribers_in_number_order(tmp_path):
    url = f"sqlite:///{tmp_path}/u.db"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 23, now=datetime(2026, 12, 2, tzinfo=timezone.utc))
    pages = list(SimulatedBoss(engine, page=7).usage(months_before("2026-12", 3)))
    flat = [s for page in pages for s in page]
    assert len(pages) > 3 and len(flat) == 23
    assert [m for m, _ in flat] == sorted(m for m, _ in flat)
    assert all([u.month for u in months] == ["2026-09", "2026-10", "2026-11"] for _, months in flat)
    engine.dispose()


def test_usage_rows_are_the_usage_as_plain_tuples_and_ranges_split_it_exactly(sql_url):
    """Any page size, on SQLite and PostgreSQL: the same subscribers and months as `usage`, and ranges that
    meet cover everyone once."""
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, 31, now=datetime(2026, 12, 2, tzinfo=timezone.utc))
    months = months_before("2026-12", 3)
    whole = [(m, [tuple(u) for u in us]) for page in SimulatedBoss(engine, page=500).usage(months) for m, us in page]
    for size in (1, 4, 7, 500):
        boss = SimulatedBoss(engine, page=size)
        assert [(rows[0][-1], [r[:-1] for r in rows]) for page in boss.usage_rows(months) for rows in page] == whole
        cut = whole[13][0]
        parts = [list(boss.usage_rows(months, hi=cut)), list(boss.usage_rows(months, lo=cut))]
        assert [rows[0][-1] for part in parts for page in part for rows in page] == [m for m, _ in whole]
        assert all(len(page) for part in parts for page in part)
    engine.dispose()
