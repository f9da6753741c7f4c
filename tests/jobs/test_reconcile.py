"""A payment taken for a booking that never happened comes back, once, however often the job runs."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from bot.db import make_engine, upgrade
from bot.engine.flow import Call
from bot.tools.seed import seed_demo
from integrations.services import simulated
from flows import golf
from jobs.reconcile import reconcile

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
A = "+8613800000001"


def test_payment_without_booking_is_refunded_once(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 3)
    services = simulated(engine, clock=lambda: NOW)
    services.golf.hold(1, date(2026, 11, 25), 398, A, 1, "k1", NOW + timedelta(minutes=5))
    services.golf.faults.down = True  # the tee sheets fail right after the payment went through
    call = Call("golf.book", "k1", (("msisdn", A), ("pay", "points"), ("amount_fen", 20_000), ("points", 10_000),
                                    ("now", NOW.isoformat())))
    try:
        golf.book(services, call)
    except Exception:
        pass
    services.golf.faults.down = False
    assert services.boss.account(A).points == 2_800  # paid, not booked
    later = NOW + timedelta(minutes=11)
    assert reconcile(services, later) == 1
    assert reconcile(services, later) == 0
    assert services.boss.account(A).points == 12_800
    assert golf.book(services, call).name == "taken"  # a late retry of the same key books nothing
    assert services.boss.account(A).points == 12_800
    engine.dispose()


def test_a_lapsed_hold_that_was_never_paid_is_just_released(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 3)
    services = simulated(engine, clock=lambda: NOW)
    services.hospital.hold(110, date(2026, 11, 24), "am", A, "h1", NOW + timedelta(minutes=5))
    assert reconcile(services, NOW + timedelta(minutes=11)) == 0
    assert services.hospital.remaining(110, date(2026, 11, 24), "am") == 8
    engine.dispose()
