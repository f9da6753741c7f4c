"""A campaign's bonus credit on the simulated BOSS (SQLite and PostgreSQL): once per key, however raced, and
counted by key prefix for the campaign report."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.boss.simulated import SimulatedBoss
from tests.integrations.test_boss import A, B, entries, ledger_sum

HELD = 12_800  # A's opening balance in the demo seed


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url, pool_size=40)
    seed_demo(engine, 20)
    yield engine
    engine.dispose()


@pytest.fixture
def boss(engine):
    return SimulatedBoss(engine)


def test_an_award_credits_once_and_a_repeat_says_already(boss, engine):
    """The first call credits and answers ok; the same key again credits nothing and answers "already"."""
    first = boss.award_points(A, 2_000, "cmp:7:" + A, "cmp:7")
    again = boss.award_points(A, 2_000, "cmp:7:" + A, "cmp:7")
    assert (first.ok, first.reason, first.points_left) == (True, "", HELD + 2_000)
    assert (again.ok, again.reason, again.points_left) == (True, "already", HELD + 2_000)
    assert boss.account(A).points == HELD + 2_000 == ledger_sum(engine, A) and entries(engine, A) == 2
    assert boss.history(A, 0, 1)[0][0].kind == "award"


def test_an_award_to_an_unknown_number_credits_nothing(boss, engine):
    result = boss.award_points("+8613999999999", 2_000, "cmp:7:+8613999999999", "cmp:7")
    assert (result.ok, result.reason) == (False, "unknown_account")
    assert entries(engine, "+8613999999999") == 0 and boss.awarded("cmp:7:") == 0


def test_thirty_concurrent_awards_with_one_key_credit_once(boss, engine):
    """A repeated campaign job, a repeated webhook and two channels at once: one credit, every answer ok."""
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda n: boss.award_points(A, 2_000, "cmp:7:" + A, "cmp:7"), range(30)))
    assert all(r.ok and r.points_left == HELD + 2_000 for r in results)
    assert sorted(r.reason for r in results) == [""] + ["already"] * 29
    assert boss.account(A).points == HELD + 2_000 == ledger_sum(engine, A) and entries(engine, A) == 2


def test_awarded_counts_each_offer_taken_under_a_campaigns_prefix(boss):
    """Points credited and packages paid (bill or points) under "cmp:7:" count; another campaign's, a plain
    purchase and a repeat do not."""
    boss.award_points(A, 2_000, "cmp:7:" + A, "cmp:7")
    boss.award_points(A, 2_000, "cmp:7:" + A, "cmp:7")  # a repeat: one offer
    assert boss.subscribe(B, "health", 4_000, 0, date(2027, 12, 1), "cmp:7:" + B).ok  # on the bill
    assert boss.subscribe(A, "car", 4_000, 2_000, date(2027, 12, 1), "cmp:7:x" + A).ok  # by points
    boss.award_points(B, 500, "cmp:70:" + B, "cmp:70")  # campaign 70 is not campaign 7
    assert boss.subscribe(B, "car", 6_000, 0, date(2027, 12, 1), "package:abc").ok
    assert boss.awarded("cmp:7:") == 3 and boss.awarded("cmp:70:") == 1 and boss.awarded("cmp:8:") == 0


def test_awarded_treats_like_wildcards_in_the_prefix_as_text(boss):
    boss.award_points(A, 100, "cmp:17:" + A, "cmp:17")
    assert boss.awarded("cmp:_7:") == 0 and boss.awarded("cmp:%") == 0 and boss.awarded("cmp:1") == 1
