"""Tee sheets on SQLite and PostgreSQL: a tee time is taken once; holds expire; races on PostgreSQL."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.golf import SLOTS
from integrations.golf.simulated import SimulatedTeeSheets

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
DAY = date(2026, 11, 25)
A, B = "+8613800000001", "+8613800000002"


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def sheets(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url, pool_size=60)
    seed_demo(engine, 5)
    clock = Clock()
    yield SimulatedTeeSheets(engine, clock=clock), clock
    engine.dispose()


def test_tee_times_run_every_eight_minutes_from_0630_to_1600():
    assert SLOTS[0] == 390 and SLOTS[-1] <= 960 and all(b - a == 8 for a, b in zip(SLOTS, SLOTS[1:]))
    assert len(SLOTS) == 72


def test_held_tee_time_is_not_free_and_cannot_be_held_again(sheets):
    tee, clock = sheets
    until = NOW + timedelta(minutes=5)
    assert tee.hold(1, DAY, 398, A, 2, "k1", until).ok
    assert 398 not in tee.free_slots(1, DAY, NOW)
    assert tee.hold(1, DAY, 398, B, 1, "k2", until).reason == "taken"
    assert tee.hold(1, DAY, 398, A, 2, "k1", until).ok  # the same hold again: same answer


def test_expired_hold_frees_the_tee_time(sheets):
    tee, clock = sheets
    tee.hold(1, DAY, 398, A, 2, "k1", NOW + timedelta(minutes=5))
    clock.now = NOW + timedelta(minutes=6)
    assert 398 in tee.free_slots(1, DAY, NOW)
    assert tee.hold(1, DAY, 398, B, 1, "k2", clock.now + timedelta(minutes=5)).ok
    assert tee.confirm("k1", 100, 0, "bill", clock.now) is None  # A's hold lapsed and B holds it now
    assert tee.confirm("k2", 100, 0, "bill", clock.now).status == "booked"


def test_confirm_is_idempotent_and_cancel_frees_the_tee_time(sheets):
    tee, _ = sheets
    tee.hold(2, DAY, 406, A, 4, "k1", NOW + timedelta(minutes=5))
    first = tee.confirm("k1", 400_000, 0, "bill", NOW)
    assert tee.confirm("k1", 400_000, 0, "bill", NOW) == first
    assert [b.code for b in tee.bookings(A, DAY)] == [first.code]
    assert tee.cancel(first.code, A).status == "cancelled"
    assert tee.cancel(first.code, A).status == "cancelled"  # twice: same answer
    assert tee.cancel(first.code, B) is None  # not B's
    assert 406 in tee.free_slots(2, DAY, NOW) and tee.bookings(A, DAY) == []


def test_past_tee_times_of_today_are_not_offered(sheets):
    tee, _ = sheets
    local = datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    assert min(tee.free_slots(1, DAY, local)) > 12 * 60


def test_hundred_concurrent_bookings_of_the_last_place_let_exactly_one_through(pg_url):
    upgrade(pg_url)
    engine = make_engine(pg_url, pool_size=60)
    seed_demo(engine, 120)
    tee = SimulatedTeeSheets(engine, clock=lambda: NOW)
    until = NOW + timedelta(minutes=5)
    for slot in SLOTS[:-1]:  # every tee time but the last is booked already
        tee.hold(3, DAY, slot, B, 1, f"pre{slot}", until)
    who = [f"+86138{n:08d}" for n in range(1, 101)]
    with ThreadPoolExecutor(50) as pool:
        held = list(pool.map(lambda n: tee.hold(3, DAY, SLOTS[-1], who[n], 2, f"race{n}", until), range(100)))
    assert sum(h.ok for h in held) == 1
    winner = next(n for n, h in enumerate(held) if h.ok)
    with ThreadPoolExecutor(50) as pool:
        confirmed = list(pool.map(lambda n: tee.confirm(f"race{n}", 1, 0, "bill", NOW), range(100)))
    assert [n for n, b in enumerate(confirmed) if b] == [winner]
    assert tee.free_slots(3, DAY, NOW) == []
    engine.dispose()


def test_hold_given_in_local_time_expires_on_time(sheets):
    """SQLite keeps no offset: a hold until 10:05 Shanghai must free the tee time at 02:05 UTC."""
    tee, clock = sheets
    shanghai = timezone(timedelta(hours=8))
    tee.hold(1, DAY, 398, A, 2, "k1", datetime(2026, 11, 23, 10, 5, tzinfo=shanghai))
    clock.now = datetime(2026, 11, 23, 2, 6, tzinfo=timezone.utc)
    assert 398 in tee.free_slots(1, DAY, clock.now)


def test_a_new_hold_replaces_the_subscribers_own_earlier_one(sheets):
    tee, _ = sheets
    until = NOW + timedelta(minutes=5)
    assert tee.hold(1, DAY, 398, A, 2, "k1", until).ok
    assert tee.hold(1, DAY, 398, A, 3, "k2", until).ok  # changed the players: not "taken" by oneself
    assert tee.hold(1, DAY, 398, B, 1, "k3", until).reason == "taken"


def test_a_refunded_hold_is_never_booked_later(sheets):
    tee, clock = sheets
    tee.hold(1, DAY, 398, A, 2, "k1", NOW + timedelta(minutes=5))
    tee.release("k1", final=True)  # lost: its payment went back
    assert tee.confirm("k1", 100, 0, "bill", NOW) is None
