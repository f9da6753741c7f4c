"""What the care reminders read from the simulated BOSS, on SQLite and PostgreSQL, with fixed clocks: bills by
day across month ends, one low-balance crossing per fall, Feb 29 birthdays, the roaming feed in order and
pages, arrears, and reads that span more than one keyset page."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, update

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.boss import Bill, Ending, LowBalance, Suspension, UnknownAccount
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import BossAccount, BossBill, BossSubscription, RoamingPrice
from integrations.faults import Faults, PartnerUnavailable

A, B, C = "+8613800000001", "+8613800000002", "+8613800000003"
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
T1, T2, T3 = NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, 12, care=False)  # subscribers and accounts only: each test writes the care data it reads
    yield engine
    engine.dispose()


@pytest.fixture
def boss(engine):
    return SimulatedBoss(engine, clock=lambda: NOW, page=3)  # 3 rows a page: every read here spans pages


def number(i: int) -> str:
    return f"+86138000000{i:02d}"


def bills(engine, *rows) -> None:
    with engine.begin() as conn:
        conn.execute(insert(BossBill.__table__), [dict(zip(("msisdn", "period", "amount_fen", "paid_fen", "issued_on",
                                                             "due_on"), r)) for r in rows])


def accounts(engine, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(BossAccount.__table__).values(**values))


def test_bills_issued_on_a_day_come_in_msisdn_order_across_pages(boss, engine):
    """Seven bills issued Dec 1 read in three pages of three; November's bills and Dec 2's stay out."""
    bills(engine, *[(number(i), "2026-11", 1000 * i, 0, date(2026, 12, 1), date(2026, 12, 15)) for i in range(7, 0, -1)],
          (number(8), "2026-11", 500, 0, date(2026, 12, 2), date(2026, 12, 16)),
          (number(1), "2026-10", 900, 900, date(2026, 11, 1), date(2026, 11, 15)))
    issued = list(boss.bills_issued(date(2026, 12, 1)))
    assert [b.msisdn for b in issued] == [number(i) for i in range(1, 8)]
    assert issued[1] == Bill(number(2), "2026-11", 2000, 2000, date(2026, 12, 1), date(2026, 12, 15))


def test_bills_due_are_the_unpaid_ones_due_that_day_with_what_is_left(boss, engine):
    """A month end: December's bills issued Jan 1 2027 and due Jan 15; paid ones are not due, part-paid ones
    owe the rest."""
    bills(engine, (A, "2026-12", 18_850, 0, date(2027, 1, 1), date(2027, 1, 15)),
          (B, "2026-12", 9_000, 9_000, date(2027, 1, 1), date(2027, 1, 15)),
          (C, "2026-12", 12_000, 2_000, date(2027, 1, 1), date(2027, 1, 15)),
          (number(4), "2026-12", 12_000, 0, date(2027, 1, 1), date(2027, 1, 16)))
    due = list(boss.bills_due(date(2027, 1, 15)))
    assert [(b.msisdn, b.period, b.due_fen) for b in due] == [(A, "2026-12", 18_850), (C, "2026-12", 10_000)]
    assert [b.msisdn for b in boss.bills_issued(date(2027, 1, 1))] == [A, B, C, number(4)]


def test_a_line_is_suspended_grace_days_after_an_unpaid_due_date_owing_every_unpaid_bill(boss, engine):
    bills(engine, (A, "2026-10", 5_000, 0, date(2026, 11, 1), date(2026, 11, 15)),
          (A, "2026-11", 7_000, 1_000, date(2026, 12, 1), date(2026, 12, 15)),
          (B, "2026-11", 3_000, 3_000, date(2026, 12, 1), date(2026, 12, 15)),
          (C, "2026-11", 4_000, 0, date(2026, 12, 1), date(2026, 12, 15)))
    assert list(boss.suspensions(date(2026, 12, 25))) == [Suspension(A, 11_000, date(2026, 12, 25)),
                                                          Suspension(C, 4_000, date(2026, 12, 25))]
    assert list(boss.suspensions(date(2026, 11, 25))) == [Suspension(A, 5_000, date(2026, 11, 25))]
    assert list(boss.suspensions(date(2026, 12, 24))) == []


def test_one_fall_below_the_threshold_is_one_crossing_and_a_new_fall_another(boss):
    """20 -> 5 crosses ¥10 at t1; 5 -> 3 is the same crossing; 3 -> 60 -> 4 crosses again at t2."""
    boss.set_balance(A, 2_000, T1 - timedelta(hours=1))
    boss.set_balance(A, 500, T1)
    assert [lb for lb in boss.low_balances(1_000) if lb.msisdn == A] == [LowBalance(A, 500, T1)]
    boss.set_balance(A, 300, T1 + timedelta(minutes=5))
    assert [lb for lb in boss.low_balances(1_000) if lb.msisdn == A] == [LowBalance(A, 300, T1)]
    boss.set_balance(A, 6_000, T2 - timedelta(minutes=5))
    assert [lb for lb in boss.low_balances(1_000) if lb.msisdn == A] == []
    boss.set_balance(A, 400, T2)
    assert [lb for lb in boss.low_balances(1_000) if lb.msisdn == A] == [LowBalance(A, 400, T2)]


def test_low_balances_span_pages_and_a_top_up_by_points_ends_a_crossing(boss, engine):
    """A balance the log never saw low has no crossing; a points top-up is logged like any change."""
    for i in range(1, 8):
        boss.set_balance(number(i), 100 * i, T1 + timedelta(minutes=i))
    low = list(boss.low_balances(1_000))
    assert [(lb.msisdn, lb.crossed_at) for lb in low] == [(number(i), T1 + timedelta(minutes=i)) for i in range(1, 8)]
    later = SimulatedBoss(engine, clock=lambda: T2, page=3)
    assert later.spend_points(A, 500, "topup:1", "redeem", "topup10", topup_fen=1_000).ok  # ¥1.00 -> ¥11.00 at t2
    assert A not in {lb.msisdn for lb in boss.low_balances(1_000)}
    later.set_balance(A, 200, T3)
    assert [lb for lb in boss.low_balances(1_000) if lb.msisdn == A] == [LowBalance(A, 200, T3)]  # a new crossing
    accounts(engine, balance_fen=50)  # changed behind the BOSS's back: no logged crossing, no reminder for 8..12
    assert {lb.msisdn for lb in boss.low_balances(1_000)} == {number(i) for i in range(1, 8)}


def test_set_balance_refuses_an_unknown_number(boss):
    with pytest.raises(UnknownAccount):
        boss.set_balance("+8613899999999", 100, T1)


def test_packages_ending_on_a_day_are_the_active_ones(boss, engine):
    rows = [(A, "golf", "active", date(2026, 12, 31)), (A, "health", "active", date(2026, 12, 31)),
            (B, "car", "cancelled", date(2026, 12, 31)), (C, "car_tips", "active", date(2027, 1, 1)),
            (number(4), "car", "active", date(2026, 12, 31)), (number(5), "golf", "active", date(2026, 12, 31))]
    with engine.begin() as conn:
        conn.execute(insert(BossSubscription.__table__), [
            dict(msisdn=m, package=p, price_fen=100, points=0, pay="bill", status=s, until=u, idem_key=f"{m}{p}",
                 created_at=NOW) for m, p, s, u in rows])
    assert list(boss.packages_ending(date(2026, 12, 31))) == [
        Ending(A, "golf", date(2026, 12, 31)), Ending(A, "health", date(2026, 12, 31)),
        Ending(number(4), "car", date(2026, 12, 31)), Ending(number(5), "golf", date(2026, 12, 31))]


def test_points_expiring_at_the_nov_30_cycle_end_exclude_points_that_arrive_after_it(engine):
    """Before the cycle end every point is at risk; after Shanghai's midnight, new points are not; once
    expired, nothing is."""
    boss = SimulatedBoss(engine, clock=lambda: datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc), page=4)
    at_risk = dict(boss.points_expiring(date(2026, 11, 30)))
    assert at_risk[A] == 12_800 and all(points > 0 for points in at_risk.values())
    after = SimulatedBoss(engine, clock=lambda: datetime(2026, 11, 30, 16, 0, 1, tzinfo=timezone.utc), page=4)
    assert after.refund_points(A, 200, "r:1", "late").ok
    assert dict(after.points_expiring(date(2026, 11, 30)))[A] == 12_800
    after.expire_points(A, datetime(2026, 11, 30, 23, 59, 59, tzinfo=timezone(timedelta(hours=8))), "expiry:A")
    assert A not in dict(after.points_expiring(date(2026, 11, 30)))
    assert dict(after.points_expiring(date(2026, 11, 30))).keys() == at_risk.keys() - {A}


def test_feb_29_birthdays_are_greeted_on_feb_28_in_a_common_year(boss, engine):
    with engine.begin() as conn:
        for m, born in ((A, date(1996, 2, 29)), (B, date(1985, 2, 28)), (C, date(1990, 3, 1)),
                        (number(4), date(2000, 2, 28)), (number(5), date(1970, 2, 28)), (number(6), date(1971, 2, 28))):
            conn.execute(update(BossAccount.__table__).where(BossAccount.msisdn == m).values(birthday=born))
    assert list(boss.birthdays(2, 28, year=2027)) == [A, B, number(4), number(5), number(6)]
    assert list(boss.birthdays(2, 28, year=2028)) == [B, number(4), number(5), number(6)]
    assert list(boss.birthdays(2, 29, year=2028)) == [A]
    assert list(boss.birthdays(3, 1, year=2028)) == [C]
    assert list(boss.birthdays(2, 28)) == [A, B, number(4), number(5), number(6)]  # the clock's year, 2026
    with pytest.raises(ValueError):
        list(boss.birthdays(2, 30))


def test_the_roaming_feed_is_read_oldest_first_in_pages(boss):
    ids = [boss.record_roaming(m, c, T1 + timedelta(minutes=i)) for i, (m, c) in
           enumerate(((A, "JP"), (B, "kr"), (A, "HK"), (C, "US"), (B, "FR")))]
    assert ids == sorted(ids)
    first = boss.roaming_events(0, 2)
    assert [(e.msisdn, e.country, e.at) for e in first] == [(A, "JP", T1), (B, "KR", T1 + timedelta(minutes=1))]
    rest = boss.roaming_events(first[-1].id, 10)
    assert [e.country for e in rest] == ["HK", "US", "FR"] and boss.roaming_events(rest[-1].id, 10) == []


@pytest.mark.parametrize("msisdn,country,error", [(A, "XX", ValueError), (A, "CN", ValueError),
                                                  (A, "JPN", ValueError), ("+8613899999999", "JP", UnknownAccount)])
def test_a_roaming_registration_needs_a_country_abroad_and_an_account(boss, msisdn, country, error):
    with pytest.raises(error):
        boss.record_roaming(msisdn, country, T1)
    assert boss.roaming_events(0, 10) == []


def test_roaming_tariff_by_country(boss, engine):
    with engine.begin() as conn:
        conn.execute(insert(RoamingPrice.__table__).values(country="JP", day_fen=2_500, data_mb=1_024))
    assert boss.roaming_tariff("jp").day_fen == 2_500 and boss.roaming_tariff("ZZ") is None


def test_a_boss_that_goes_down_mid_read_fails_the_read(engine):
    faults = Faults()
    boss = SimulatedBoss(engine, faults=faults, clock=lambda: NOW, page=3)
    read = boss.points_expiring(date(2026, 11, 30))
    next(read)
    faults.down = True
    with pytest.raises(PartnerUnavailable):
        list(read)
