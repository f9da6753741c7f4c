"""The payment saga (flows/common.py) as every product uses it, on SQLite and PostgreSQL: a refused
charge is never taken for a paid one, and a refund that did not happen is never reported as done."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, update
from structlog.testing import capture_logs

from bot.db import make_engine, upgrade
from bot.engine.flow import Call
from bot.tools.seed import seed_demo
from flows import doctor, fines, golf, packages
from flows.common import Payment, charge, paid_under, points_for, refund
from integrations.boss.simulated import CREDIT_LIMIT_FEN
from integrations.boss.tables import BossAccount
from integrations.golf.tables import TeeBooking
from integrations.services import simulated
from jobs.reconcile import reconcile

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
A = "+8613800000001"  # gold, 12,800 points, bill ¥188.50
DAY = date(2026, 11, 25)
CHIEF = 110  # 8 numbers a half-day
RID = "11010519491231002X"
ACC = BossAccount.__table__


@pytest.fixture
def services(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, 3)
    yield simulated(engine, clock=lambda: NOW)
    engine.dispose()


def bill_up_to_the_limit(services, headroom_fen: int = 100) -> int:
    """Make A's bill reach the credit limit but for `headroom_fen`: the next real charge is declined."""
    with services.boss.engine.begin() as conn:
        conn.execute(update(ACC).where(ACC.c.msisdn == A).values(bill_fen=CREDIT_LIMIT_FEN - headroom_fen))
    return CREDIT_LIMIT_FEN - headroom_fen


def close_account(services) -> None:
    """The BOSS no longer knows A (a number ported out): refunds have nowhere to go."""
    with services.boss.engine.begin() as conn:
        conn.execute(delete(ACC).where(ACC.c.msisdn == A))


def test_a_declined_registration_charge_registers_nobody_and_frees_the_number(services):
    hospital = services.hospital
    assert hospital.hold(CHIEF, DAY, "am", A, "h1", NOW + timedelta(minutes=5)).ok
    assert hospital.remaining(CHIEF, DAY, "am") == 7
    bill = bill_up_to_the_limit(services)
    call = Call("doctor.register", "h1", (("msisdn", A), ("patient", "张伟"), ("rid", RID), ("fee_fen", 5_000)))
    assert doctor.register(services, call).name == "declined"
    assert hospital.remaining(CHIEF, DAY, "am") == 8 and hospital.appointments(A, DAY) == []
    assert services.boss.account(A).bill_fen == bill and services.boss.payment("h1:pay") is None
    assert doctor.FLOW.states["register"].outcomes["declined"] == "declined"


def test_a_declined_golf_charge_books_nothing_and_gives_the_tee_time_back(services):
    assert services.golf.hold(1, DAY, 398, A, 1, "g1", NOW + timedelta(minutes=5)).ok
    bill_up_to_the_limit(services)
    call = Call("golf.book", "g1", (("msisdn", A), ("pay", "bill"), ("amount_fen", 20_000), ("now", NOW.isoformat())))
    assert golf.book(services, call).name == "declined"
    assert 398 in services.golf.free_slots(1, DAY, NOW) and services.golf.bookings(A, DAY) == []


def test_a_declined_fines_charge_marks_no_fine_paid(services):
    bill_up_to_the_limit(services)
    call = Call("fines.pay", "f1", (("msisdn", A), ("vids", "1:20000"), ("amount", 20_000), ("pay", "bill")))
    assert fines.pay(services, call).name == "declined"
    assert services.boss.payment("f1:pay") is None


def test_a_package_on_a_declined_bill_is_not_subscribed(services):
    bill_up_to_the_limit(services)
    call = Call("packages.subscribe", "p1", (("msisdn", A), ("package", "health"), ("price_fen", 6_000),
                                             ("pay", "bill"), ("until", "2027-11-23")))
    assert packages.subscribe(services, call).name == "declined" and services.boss.subscriptions(A) == []


def test_short_of_points_is_insufficient_for_every_product(services):
    call = Call("packages.subscribe", "p2", (("msisdn", A), ("package", "car_full"), ("price_fen", 28_000),
                                             ("pay", "points"), ("until", "2027-11-23")))
    assert packages.subscribe(services, call).name == "insufficient"
    taken = charge(services, A, Payment.of("points", 2_000_000), "x1", "golf")
    assert not taken.ok and taken.reason == "insufficient" and services.boss.account(A).points == 12_800


def test_a_charge_and_its_refund_go_by_the_method_in_its_unit(services):
    assert charge(services, A, Payment.of("points", 20_000), "c1", "golf").ok
    assert paid_under(services, "c1") == Payment("points", points_for(20_000)) == Payment("points", 10_000)
    assert refund(services, A, paid_under(services, "c1"), "c1:refund", "golf").ok
    assert charge(services, A, Payment.of("bill", 20_000), "c2", "golf").ok
    assert paid_under(services, "c2") == Payment("bill", 20_000)
    assert refund(services, A, Payment("bill", 20_000), "c2:refund", "golf").ok
    account = services.boss.account(A)
    assert (account.points, account.bill_fen) == (12_800, 18_850)
    with pytest.raises(ValueError):
        Payment("cash", 1)


def test_a_golf_cancel_whose_refund_is_refused_keeps_the_booking(services):
    """Points refunded to an account that is gone were once ledgered as done and the booking cancelled."""
    assert services.golf.hold(1, DAY, 398, A, 1, "g2", NOW + timedelta(minutes=5)).ok
    book = Call("golf.book", "g2", (("msisdn", A), ("pay", "points"), ("amount_fen", 20_000), ("now", NOW.isoformat())))
    code = dict(golf.book(services, book).values)["code"]
    close_account(services)
    cancel = Call("golf.cancel", "c", (("msisdn", A), ("code", code), ("now", NOW.isoformat())))
    assert golf.cancel(services, cancel).name == "failed"
    assert services.golf.booking(code, A).status == "booked"


def test_a_doctor_cancel_whose_refund_is_refused_keeps_the_registration(services):
    hospital = services.hospital
    hospital.hold(CHIEF, DAY, "am", A, "h2", NOW + timedelta(minutes=5))
    register = Call("doctor.register", "h2", (("msisdn", A), ("patient", "张伟"), ("rid", RID), ("fee_fen", 5_000)))
    code = dict(doctor.register(services, register).values)["code"]
    close_account(services)
    cancel = Call("doctor.cancel", "c", (("msisdn", A), ("code", code), ("now", NOW.isoformat())))
    assert doctor.cancel(services, cancel).name == "failed"
    assert hospital.appointment(code, A).status == "booked"


def test_the_reconciler_counts_only_refunds_that_happened(services):
    """A lapsed hold paid in points whose account is gone: logged as owed, not counted as refunded."""
    services.golf.hold(1, DAY, 398, A, 1, "g3", NOW + timedelta(minutes=5))
    assert charge(services, A, Payment.of("points", 20_000), "g3:pay", "golf").ok
    close_account(services)
    with capture_logs() as logs:
        assert reconcile(services, NOW + timedelta(minutes=11)) == 0
    assert [e["reason"] for e in logs if e["event"] == "refund_refused"] == ["unknown_account"]
    with services.golf.engine.connect() as conn:  # given up for good either way: never booked later
        assert conn.execute(select(TeeBooking.status).where(TeeBooking.idem_key == "g3")).scalar_one() == "lost"
