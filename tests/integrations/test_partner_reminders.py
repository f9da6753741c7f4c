"""What the appointment, tee-time and inspection reminders read from the simulated partners, on SQLite and
PostgreSQL: a day's booked ones only, with the subscriber's number, across keyset pages; the cached tee
sheets pass the read through, never from the cache."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.golf.cached import CachedTeeSheets
from integrations.golf.simulated import SimulatedTeeSheets
from integrations.hospital import Place
from integrations.hospital.simulated import SimulatedRegistration
from integrations.police import Vehicle
from integrations.police.simulated import SimulatedTrafficPolice

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
UNTIL = NOW + timedelta(minutes=5)
DEC1, DEC2 = date(2026, 12, 1), date(2026, 12, 2)  # tomorrow across a month end, and the day after
RID = "11010519491231002X"


def number(i: int) -> str:
    return f"+86138000000{i:02d}"


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, 12, care=False)
    yield engine
    engine.dispose()


def test_appointments_on_a_day_are_the_booked_ones_with_the_patients_number(engine):
    reg = SimulatedRegistration(engine, clock=lambda: NOW, page=2)
    for i in range(1, 6):  # five patients of Dr Wang on Dec 1, read in three pages of two
        assert reg.hold(110, DEC1, "am", number(i), f"a{i}", UNTIL).ok
        assert reg.confirm(f"a{i}", f"P{i}", RID)
    reg.hold(110, DEC1, "pm", number(6), "held", UNTIL)  # held, never confirmed: no appointment
    reg.hold(110, DEC2, "am", number(7), "a7", UNTIL) and reg.confirm("a7", "P7", RID)
    reg.cancel(reg.appointment(reg._by_key("a3").code, number(3)).code, number(3))
    found = list(reg.appointments_on(DEC1))
    assert [(m, a.number, a.status) for m, a in found] == [(number(1), 1, "booked"), (number(2), 2, "booked"),
                                                          (number(4), 4, "booked"), (number(5), 5, "booked")]
    assert found[0][1].code == reg._by_key("a1").code and found[0][1].id_tail == "002X"
    assert [m for m, _ in reg.appointments_on(DEC2)] == [number(7)]


def test_a_doctors_location_names_the_hospital_and_department(engine):
    reg = SimulatedRegistration(engine)
    assert reg.location(110) == (Place(1, "Peking Union Medical College Hospital", "北京协和医院"),
                                 Place(11, "Cardiology", "心内科"))
    assert reg.location(220)[1].name_zh == "骨科" and reg.location(999) is None


def test_bookings_on_a_day_are_the_booked_tee_times_even_through_the_cache(engine):
    sheets = SimulatedTeeSheets(engine, clock=lambda: NOW, page=2)
    cached = CachedTeeSheets(sheets, 60)
    for i, slot in enumerate((398, 406, 414), start=1):
        assert cached.hold(1, DEC1, slot, number(i), 2, f"g{i}", UNTIL).ok
        assert cached.confirm(f"g{i}", 100_000, 0, "bill", NOW)
    cached.hold(2, DEC1, 398, number(4), 1, "held", UNTIL)  # a hold is no booking yet
    cached.hold(1, DEC2, 398, number(5), 1, "g5", UNTIL) and cached.confirm("g5", 50_000, 0, "bill", NOW)
    assert [(m, b.slot) for m, b in cached.bookings_on(DEC1)] == [(number(1), 398), (number(2), 406), (number(3), 414)]
    cached.cancel(sheets._by_key("g2").code, number(2))
    assert [m for m, _ in cached.bookings_on(DEC1)] == [number(1), number(3)]  # read again, never kept
    assert [m for m, _ in sheets.bookings_on(DEC2)] == [number(5)]


def test_inspections_due_reach_every_number_a_vehicle_is_bound_to(engine):
    police = SimulatedTrafficPolice(engine, page=1)
    assert police.bind(number(2), "京N8K2Q1", "65432A") == "ok"
    assert police.bind(number(3), "粤B12345", "123456") == "ok"
    due = list(police.inspections_due(date(2026, 12, 15)))
    assert due == [(number(1), Vehicle("京N8K2Q1", date(2026, 12, 15))), (number(2), Vehicle("京N8K2Q1", date(2026, 12, 15)))]
    assert list(police.inspections_due(date(2027, 3, 31))) == [(number(3), Vehicle("粤B12345", date(2027, 3, 31)))]
    assert list(police.inspections_due(date(2026, 12, 16))) == []
