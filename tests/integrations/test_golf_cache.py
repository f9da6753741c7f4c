"""Tee-sheet availability kept for a few seconds: reused by page turns and other subscribers, dropped by
this process's own writes, and never a way to book a tee time twice."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.golf.cached import CachedTeeSheets
from integrations.golf.simulated import SimulatedTeeSheets

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
LOCAL_NOW = datetime(2026, 11, 23, 10, 0)
DAY = date(2026, 11, 25)
A, B = "+8613800000001", "+8613800000002"


class Timer:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Counting(SimulatedTeeSheets):
    reads = 0

    def free_slots(self, course_id, day, now):
        self.reads += 1
        return super().free_slots(course_id, day, now)


@pytest.fixture
def tee(tmp_path):
    url = f"sqlite:///{tmp_path}/golf.db"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 5)
    yield Counting(engine, clock=lambda: NOW)
    engine.dispose()


def test_a_read_is_reused_until_it_is_seconds_old(tee):
    timer = Timer()
    cached = CachedTeeSheets(tee, 2, timer=timer)
    first = cached.free_slots(1, DAY, LOCAL_NOW)
    timer.t = 1.9
    assert cached.free_slots(1, DAY, LOCAL_NOW) == first and tee.reads == 1
    assert cached.free_slots(2, DAY, LOCAL_NOW) and tee.reads == 2  # another course is another read
    timer.t = 2.1
    cached.free_slots(1, DAY, LOCAL_NOW)
    assert tee.reads == 3


def test_the_next_minute_is_another_read(tee):
    """Today's tee times drop out as they pass, and a test clock that jumps is never answered from before."""
    cached = CachedTeeSheets(tee, 60, timer=Timer())
    cached.free_slots(1, DAY, LOCAL_NOW)
    cached.free_slots(1, DAY, LOCAL_NOW + timedelta(seconds=59))
    cached.free_slots(1, DAY, LOCAL_NOW + timedelta(minutes=1))
    assert tee.reads == 2


def test_this_process_sees_its_own_hold_and_cancel_at_once(tee):
    cached = CachedTeeSheets(tee, 60, timer=Timer())
    slot = cached.free_slots(1, DAY, LOCAL_NOW)[0]
    assert cached.hold(1, DAY, slot, A, 2, "k1", NOW + timedelta(minutes=5)).ok
    assert slot not in cached.free_slots(1, DAY, LOCAL_NOW)
    booking = cached.confirm("k1", 80_000, 0, "bill", NOW)
    assert booking and slot not in cached.free_slots(1, DAY, LOCAL_NOW)
    assert cached.cancel(booking.code, A)
    assert slot in cached.free_slots(1, DAY, LOCAL_NOW)


def test_a_tee_time_another_process_took_still_shows_but_cannot_be_held(tee):
    """The price of the kept read: for a few seconds a taken tee time may be offered; holding it answers
    "taken" and the tee time stays booked once."""
    cached = CachedTeeSheets(tee, 60, timer=Timer())
    slot = cached.free_slots(1, DAY, LOCAL_NOW)[0]
    other_process = SimulatedTeeSheets(tee.engine, clock=lambda: NOW)
    assert other_process.hold(1, DAY, slot, B, 2, "theirs", NOW + timedelta(minutes=5)).ok
    assert slot in cached.free_slots(1, DAY, LOCAL_NOW)
    held = cached.hold(1, DAY, slot, A, 2, "mine", NOW + timedelta(minutes=5))
    assert not held.ok and held.reason == "taken"
    assert slot not in cached.free_slots(1, DAY, LOCAL_NOW)  # the failed hold dropped the stale read


def test_other_reads_pass_through(tee):
    cached = CachedTeeSheets(tee, 60, timer=Timer())
    assert [c.id for c in cached.courses()] == [c.id for c in tee.courses()]
    assert cached.bookings(A, DAY) == []


def test_a_read_a_write_overtook_is_not_kept(tee):
    """A hold commits in another thread while a read is on its way: that read may predate the hold, so it
    answers this once and is not kept for the next screen."""
    cached = CachedTeeSheets(tee, 60, timer=Timer())
    real = tee.free_slots

    def read_then_a_write_lands(course_id, day, now):
        found = real(course_id, day, now)
        cached.forget()  # what a hold through this process does when it commits meanwhile
        return found

    tee.free_slots = read_then_a_write_lands
    cached.free_slots(1, DAY, LOCAL_NOW)
    tee.free_slots = real
    cached.free_slots(1, DAY, LOCAL_NOW)
    assert tee.reads == 2
