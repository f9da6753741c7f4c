"""The demo data carries what the reminders read, dated around the day of seeding, on SQLite and PostgreSQL:
a tester who seeds sees bills, crossings, birthdays (one on Feb 29), packages ending and roaming tariffs."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from bot.db import make_engine, upgrade
from bot.tools.seed import Cycle, seed_demo
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import BossBill, BossSubscription
from flows.packages import PACKAGES

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)  # Dec 2, 10:00 in Shanghai
SHOWCASE, LEAP = "+8613800000001", "+8613800000002"


def test_demo_care_data_is_there_for_every_reminder(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, 120, now=NOW)
    boss = SimulatedBoss(engine, clock=lambda: NOW)
    issued = list(boss.bills_issued(date(2026, 12, 1)))
    assert len(issued) == 120 and {(b.period, b.due_on) for b in issued} == {("2026-11", date(2026, 12, 15))}
    assert issued[0].msisdn == SHOWCASE and issued[0].due_fen == issued[0].amount_fen == 16_820
    assert 0 < len(list(boss.bills_due(date(2026, 12, 15)))) < 120
    assert [b.due_fen for b in boss.bills_issued(date(2026, 11, 1))] == [0]  # the showcase paid the one before
    low = list(boss.low_balances(2_000))
    assert low and all(NOW - timedelta(hours=48) <= lb.crossed_at < NOW for lb in low)
    assert LEAP in list(boss.birthdays(2, 28, year=2027)) and LEAP not in list(boss.birthdays(2, 28, year=2028))
    ending = [e for day in range(1, 31) for e in boss.packages_ending(date(2026, 12, 2) + timedelta(days=day))]
    assert sorted(e.msisdn for e in ending) == [f"+{8613800000001 + i}" for i in range(5, 120, 25)]
    assert all(e.package in PACKAGES for e in ending)
    assert boss.roaming_tariff("JP").day_fen == 2_500 and boss.roaming_tariff("MO").data_mb == 2_048
    engine.dispose()


def test_seeding_again_replaces_the_care_data_and_gives_the_same_rows(tmp_path):
    url = f"sqlite:///{tmp_path}/again.db"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 60, now=NOW)
    boss = SimulatedBoss(engine, clock=lambda: NOW)
    boss.record_roaming(SHOWCASE, "JP", NOW)
    first = (list(boss.bills_issued(date(2026, 12, 1))), list(boss.low_balances(2_000)), list(boss.birthdays(5, 1)))
    seed_demo(engine, 60, now=NOW)
    assert (list(boss.bills_issued(date(2026, 12, 1))), list(boss.low_balances(2_000)),
            list(boss.birthdays(5, 1))) == first
    assert boss.roaming_events(0, 10) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BossSubscription)).scalar_one() == 3
        assert conn.execute(select(func.count()).select_from(BossBill)).scalar_one() == 61
    engine.dispose()


def test_the_bill_cycle_turns_at_midnight_in_shanghai_across_a_year_end():
    """Dec 31 16:30 UTC is Jan 1 in Shanghai: December's bill is the latest, issued that day."""
    cycle = Cycle(datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc))
    assert cycle.latest == ("2026-12", date(2027, 1, 1), date(2027, 1, 15))
    assert cycle.before == ("2026-11", date(2026, 12, 1), date(2026, 12, 15))
    assert Cycle(datetime(2026, 12, 31, 15, 59, tzinfo=timezone.utc)).latest[0] == "2026-11"
