"""The simulated BOSS on SQLite and PostgreSQL: the ledger never loses or doubles a point."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import PointsEntry

A, B = "+8613800000001", "+8613800000002"
MIDNIGHT = datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url, pool_size=60)
    seed_demo(engine, 20)
    yield engine
    engine.dispose()


@pytest.fixture
def boss(engine):
    return SimulatedBoss(engine)


def ledger_sum(engine, msisdn):
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(PointsEntry.delta), 0))
                            .where(PointsEntry.msisdn == msisdn)).scalar_one()


def entries(engine, msisdn):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(PointsEntry).where(PointsEntry.msisdn == msisdn)).scalar_one()


def test_spend_debits_and_records_one_entry(boss, engine):
    result = boss.spend_points(A, 500, "k1", "redeem", "topup10", topup_fen=1000)
    assert result.ok and result.points_left == 12_300
    assert boss.account(A).points == 12_300 == ledger_sum(engine, A)
    assert boss.account(A).balance_fen == 5_630 + 1_000


def test_same_key_returns_the_first_result_and_changes_nothing_more(boss, engine):
    first = boss.spend_points(A, 500, "k1", "redeem", "topup10", topup_fen=1000)
    again = boss.spend_points(A, 500, "k1", "redeem", "topup10", topup_fen=1000)
    assert first == again
    assert boss.account(A).points == 12_300 and entries(engine, A) == 2  # opening + one redeem
    assert boss.account(A).balance_fen == 6_630


def test_insufficient_points_change_nothing(boss, engine):
    result = boss.spend_points(A, 12_801, "k2", "redeem", "x")
    assert not result.ok and result.reason == "insufficient" and result.points_left == 12_800
    assert entries(engine, A) == 1 and ledger_sum(engine, A) == 12_800


def test_database_refuses_a_negative_balance(engine):
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(text("UPDATE boss_account SET points = -1 WHERE msisdn = :m"), {"m": A})


def test_transfer_moves_points_and_respects_the_daily_limit(boss, engine):
    before = boss.account(B).points
    assert boss.transfer_points(A, B, 6_000, "t1", 10_000, MIDNIGHT).ok
    over = boss.transfer_points(A, B, 4_001, "t2", 10_000, MIDNIGHT)
    assert not over.ok and over.reason == "daily_limit"
    assert boss.transfer_points(A, B, 4_000, "t3", 10_000, MIDNIGHT).ok
    assert boss.account(A).points == 2_800 == ledger_sum(engine, A)
    assert boss.account(B).points == before + 10_000 == ledger_sum(engine, B)


def test_transfer_to_an_unknown_number_or_oneself_is_refused(boss):
    assert boss.transfer_points(A, "+8613999999999", 10, "t4", 10_000, MIDNIGHT).reason == "unknown_recipient"
    assert boss.transfer_points(A, A, 10, "t5", 10_000, MIDNIGHT).reason == "same_recipient"
    assert boss.account(A).points == 12_800


def test_bill_charge_is_idempotent(boss):
    assert boss.charge_bill(A, 20_000, "b1", "golf").ok
    assert boss.charge_bill(A, 20_000, "b1", "golf").ok
    assert boss.account(A).bill_fen == 18_850 + 20_000
    assert boss.refund_bill(A, 20_000, "b1:refund", "golf").ok
    assert boss.account(A).bill_fen == 18_850


def test_a_points_write_that_breaks_a_constraint_is_a_fault_not_already_done(boss, engine):
    """A NOT NULL violation is no proof that the key's entry exists: it raises, and nothing is spent."""
    with pytest.raises(IntegrityError):
        boss.spend_points(A, 100, "n1", None, "x")
    assert boss.account(A).points == 12_800 == ledger_sum(engine, A) and entries(engine, A) == 1


def test_a_transfer_whose_second_entry_collides_with_another_key_is_not_reported_done(boss, engine):
    """The clash is on the recipient's entry ("t9:in"), not on the transfer's own key: nothing moved."""
    assert boss.spend_points(B, 1, "t9:in", "redeem", "x").ok
    before = boss.account(B).points
    with pytest.raises(IntegrityError):
        boss.transfer_points(A, B, 100, "t9", 10_000, MIDNIGHT)
    assert boss.account(A).points == 12_800 == ledger_sum(engine, A) and boss.account(B).points == before


def test_a_bill_write_that_breaks_a_constraint_is_a_fault_not_charged(boss):
    with pytest.raises(IntegrityError):
        boss.charge_bill(A, 100, "b9", None)
    assert boss.account(A).bill_fen == 18_850 and boss.payment("b9") is None


def test_bill_charge_past_the_credit_limit_is_declined_and_changes_nothing(engine):
    boss = SimulatedBoss(engine, credit_limit_fen=20_000)
    over = boss.charge_bill(A, 1_151, "b10", "golf")
    assert not over.ok and over.reason == "over_limit" and boss.payment("b10") is None
    assert boss.charge_bill(A, 1_150, "b11", "golf").ok  # up to the limit exactly
    assert boss.refund_bill(A, 1_150, "b11:refund", "golf refund").ok  # a refund is never declined
    assert boss.account(A).bill_fen == 18_850


def test_an_unknown_account_is_neither_charged_nor_refunded(boss, engine):
    nobody = "+8613999999999"
    assert boss.charge_bill(nobody, 100, "u1", "golf").reason == "unknown_account"
    assert boss.refund_bill(nobody, 100, "u2", "golf refund").reason == "unknown_account"
    assert boss.refund_points(nobody, 100, "u3", "golf").reason == "unknown_account"
    assert boss.payment("u1") is None and boss.payment("u2") is None and entries(engine, nobody) == 0


def test_a_package_on_a_bill_past_the_credit_limit_subscribes_nothing(engine):
    from datetime import date
    boss = SimulatedBoss(engine, credit_limit_fen=20_000)
    result = boss.subscribe(A, "health", 6_000, 0, date(2027, 11, 23), "p9")
    assert result.reason == "over_limit" and boss.subscriptions(A) == [] and boss.account(A).bill_fen == 18_850


def test_a_package_write_that_breaks_a_constraint_is_a_fault_not_already(boss):
    from datetime import date
    with pytest.raises(IntegrityError):
        boss.subscribe(A, None, 6_000, 0, date(2027, 11, 23), "p10")
    assert boss.subscriptions(A) == [] and boss.account(A).bill_fen == 18_850


def test_history_is_newest_first_and_paged(boss):
    for n in range(5):
        boss.spend_points(A, 10, f"h{n}", "redeem", "x")
    page, total = boss.history(A, 0, 3)
    assert total == 6 and len(page) == 3 and all(e.delta == -10 for e in page)
    rest, _ = boss.history(A, 3, 3)
    assert rest[-1].kind == "opening"


# -- races: PostgreSQL only (SQLite serialises writers, which would hide the bugs) ------------------
@pytest.fixture
def pg_boss(pg_url):
    upgrade(pg_url)
    engine = make_engine(pg_url, pool_size=60)
    seed_demo(engine, 20)
    yield SimulatedBoss(engine), engine
    engine.dispose()


def test_fifty_concurrent_redeems_of_the_whole_balance_let_exactly_one_through(pg_boss):
    boss, engine = pg_boss
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda n: boss.spend_points(A, 12_800, f"race{n}", "redeem", "all"), range(50)))
    assert sum(r.ok for r in results) == 1
    assert boss.account(A).points == 0 == ledger_sum(engine, A)


def test_fifty_concurrent_repeats_of_one_key_apply_once(pg_boss):
    boss, engine = pg_boss
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda n: boss.spend_points(A, 100, "same-key", "redeem", "x"), range(50)))
    assert all(r.ok for r in results)
    assert boss.account(A).points == 12_700 == ledger_sum(engine, A) and entries(engine, A) == 2


def test_opposite_transfers_racing_neither_deadlock_nor_lose_points(pg_boss):
    boss, engine = pg_boss
    total = boss.account(A).points + boss.account(B).points

    def move(n):
        src, dst = (A, B) if n % 2 else (B, A)
        return boss.transfer_points(src, dst, 7, f"x{n}", 1_000_000, MIDNIGHT)

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(move, range(200)))
    assert all(r.ok for r in results)
    a, b = boss.account(A).points, boss.account(B).points
    assert a + b == total and a == ledger_sum(engine, A) and b == ledger_sum(engine, B)


def test_package_is_paid_and_subscribed_together_and_only_once(boss, engine):
    from datetime import date
    until = date(2027, 11, 23)
    assert boss.subscribe(A, "golf", 20_000, 10_000, until, "p1").ok
    assert boss.subscribe(A, "golf", 20_000, 10_000, until, "p1").ok  # the same key: the first answer
    again = boss.subscribe(A, "golf", 20_000, 10_000, until, "p2")
    assert not again.ok and again.reason == "already"
    assert boss.account(A).points == 2_800 == ledger_sum(engine, A)
    assert [s.package for s in boss.subscriptions(A)] == ["golf"]
    assert boss.subscribe(A, "health", 6_000, 0, until, "p3").ok
    assert boss.account(A).bill_fen == 18_850 + 6_000
    boss.unsubscribe(A, "golf")
    assert [s.package for s in boss.subscriptions(A)] == ["health"]


def test_short_of_points_subscribes_nothing(boss):
    from datetime import date
    result = boss.subscribe(A, "car_full", 28_000, 14_000, date(2027, 11, 23), "p4")
    assert result.reason == "insufficient" and boss.subscriptions(A) == [] and boss.account(A).points == 12_800


def test_concurrent_subscriptions_to_one_package_charge_once(pg_boss):
    from datetime import date
    boss, engine = pg_boss
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda n: boss.subscribe(A, "health", 6_000, 0, date(2027, 11, 23), f"c{n}"),
                                range(30)))
    assert sum(r.ok for r in results) == 1 and boss.account(A).bill_fen == 18_850 + 6_000


def test_racing_retries_of_one_key_that_spends_everything_all_get_the_first_answer(pg_boss):
    """The retry waits on the account lock, then finds the first attempt's entry: never "insufficient"."""
    boss, engine = pg_boss
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda n: boss.spend_points(A, 12_800, "one-key", "redeem", "all"), range(30)))
    assert all(r.ok for r in results) and boss.account(A).points == 0 == ledger_sum(engine, A)


def test_daily_limit_counts_from_local_midnight_whatever_the_zone(boss):
    from datetime import timedelta
    shanghai = timezone(timedelta(hours=8))
    boss.clock = lambda: datetime(2026, 11, 22, 23, 59, tzinfo=timezone.utc)  # 07:59 in Shanghai
    since = datetime(2026, 11, 23, 0, 0, tzinfo=shanghai)
    assert boss.transfer_points(A, B, 10_000, "d1", 10_000, since).ok
    boss.clock = lambda: datetime(2026, 11, 23, 0, 1, tzinfo=timezone.utc)  # 08:01, the same local day
    assert boss.transfer_points(A, B, 10, "d2", 10_000, since).reason == "daily_limit"


def test_a_renewal_pays_once_and_moves_the_end_of_the_package_held(boss, engine):
    """Once per key; a second renewal to the same end is "already"; a package no longer held is "lapsed"."""
    from datetime import date
    assert boss.subscribe(A, "golf", 20_000, 10_000, date(2027, 11, 23), "p1").ok
    assert boss.renew(A, "golf", 20_000, 0, date(2028, 11, 22), "r1").ok
    assert boss.renew(A, "golf", 20_000, 0, date(2028, 11, 22), "r1").ok  # a retry: the first answer
    again = boss.renew(A, "golf", 20_000, 0, date(2028, 11, 22), "r2")
    assert not again.ok and again.reason == "already"
    assert [(s.package, s.until) for s in boss.subscriptions(A)] == [("golf", date(2028, 11, 22))]
    assert boss.account(A).bill_fen == 18_850 + 20_000
    boss.unsubscribe(A, "golf")
    gone = boss.renew(A, "golf", 20_000, 0, date(2029, 11, 22), "r3")
    assert not gone.ok and gone.reason == "lapsed" and boss.account(A).bill_fen == 18_850 + 20_000


def test_concurrent_renewals_of_one_package_charge_once(pg_boss):
    from datetime import date
    boss, engine = pg_boss
    assert boss.subscribe(A, "health", 6_000, 0, date(2027, 11, 23), "s1").ok
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda n: boss.renew(A, "health", 6_000, 0, date(2028, 11, 22), f"c{n}"),
                                range(30)))
    assert sum(r.ok for r in results) == 1 and boss.account(A).bill_fen == 18_850 + 2 * 6_000
