"""Hospital registration on SQLite and PostgreSQL: a number goes to one patient; holds expire."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from flows.doctor import valid_resident_id
from integrations.hospital.simulated import SimulatedRegistration

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
DAY = date(2026, 11, 24)
CHIEF = 110  # Wang Jianguo, cardiology, chief physician: 8 numbers per half-day
RID = "11010519491231002X"


@pytest.fixture
def reg(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url, pool_size=60)
    seed_demo(engine, 5)
    yield SimulatedRegistration(engine, clock=lambda: NOW)
    engine.dispose()


@pytest.mark.parametrize("rid,ok", [
    ("11010519491231002X", True), ("11010519491231002x", True), ("110105194912310021", False),
    ("11010519491331002X", False), ("1101051949123100", False), ("A1010519491231002X", False),
    ("440524188001010014", True),
])
def test_resident_id_checksum(rid, ok):
    assert valid_resident_id(rid) is ok


def test_numbers_are_taken_lowest_first_and_counted(reg):
    until = NOW + timedelta(minutes=5)
    assert reg.remaining(CHIEF, DAY, "am") == 8
    assert reg.hold(CHIEF, DAY, "am", "+8613800000001", "k1", until).number == 1
    assert reg.hold(CHIEF, DAY, "am", "+8613800000002", "k2", until).number == 2
    assert reg.hold(CHIEF, DAY, "am", "+8613800000001", "k1", until).number == 1  # same key, same number
    assert reg.remaining(CHIEF, DAY, "am") == 6 and reg.remaining(CHIEF, DAY, "pm") == 8


def test_confirm_keeps_only_the_id_tail_in_answers(reg):
    reg.hold(CHIEF, DAY, "am", "+8613800000001", "k1", NOW + timedelta(minutes=5))
    found = reg.confirm("k1", "张伟", RID)
    assert found.status == "booked" and found.id_tail == "002X" and RID not in repr(found)
    assert reg.confirm("k1", "张伟", RID) == found


def test_quota_full_refuses_and_cancel_frees_a_number(reg):
    until = NOW + timedelta(minutes=5)
    for n in range(8):
        assert reg.hold(CHIEF, DAY, "pm", f"+86138000000{n:02d}", f"q{n}", until).ok
    assert reg.hold(CHIEF, DAY, "pm", "+8613800000099", "q9", until).reason == "full"
    reg.confirm("q0", "x", RID)
    assert reg.cancel(reg._by_key("q0").code, "+8613800000000").status == "cancelled"
    assert reg.hold(CHIEF, DAY, "pm", "+8613800000099", "q10", until).number == 1


def test_hundred_concurrent_registrations_for_the_last_number_let_exactly_one_through(pg_url):
    upgrade(pg_url)
    engine = make_engine(pg_url, pool_size=60)
    seed_demo(engine, 5)
    reg = SimulatedRegistration(engine, clock=lambda: NOW)
    until = NOW + timedelta(minutes=5)
    for n in range(7):
        reg.hold(CHIEF, DAY, "am", f"+861380000009{n}", f"pre{n}", until)
    with ThreadPoolExecutor(50) as pool:
        held = list(pool.map(lambda n: reg.hold(CHIEF, DAY, "am", f"+86139{n:08d}", f"race{n}", until), range(100)))
    assert sum(h.ok for h in held) == 1 and [h.number for h in held if h.ok] == [8]
    assert reg.remaining(CHIEF, DAY, "am") == 0
    engine.dispose()
