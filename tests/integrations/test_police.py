"""Traffic police on SQLite and PostgreSQL: plates validated, bindings proven, each fine paid once."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.police import normalise_plate
from integrations.police.simulated import SimulatedTrafficPolice

A, B = "+8613800000001", "+8613800000002"


@pytest.mark.parametrize("text,plate", [
    ("粤A12345", "粤A12345"), ("京N·8K2Q1", "京N8K2Q1"), ("粤b 12345", "粤B12345"), ("粤BD12345", "粤BD12345"),
    ("粤B12345D", "粤B12345D"), ("ＡＢ", None), ("粤I12345", None), ("粤A1234", None), ("XA12345", None),
    ("粤A123456", None), ("粤Ａ１２３４５", "粤A12345"),
])
def test_plate_formats(text, plate):
    assert normalise_plate(text) == plate


@pytest.fixture
def police(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url, pool_size=60)
    seed_demo(engine, 5)
    yield SimulatedTrafficPolice(engine)
    engine.dispose()


def test_binding_needs_the_vin_and_shows_only_own_vehicles(police):
    assert police.bind(A, "京A00000", "123456") == "no_vehicle"
    assert police.bind(A, "粤B12345", "000000") == "wrong_vin"
    assert police.violations(A, "粤B12345") == []  # not bound yet: nothing to see
    assert police.bind(A, "粤B12345", "123456") == "ok" == police.bind(A, "粤B12345", "123456")
    assert [v.plate for v in police.vehicles(A)] == ["京N8K2Q1", "粤B12345"]
    assert [v.id for v in police.violations(A, "粤B12345")] == [1, 2]  # number 3 was paid already


def test_a_fine_is_paid_once(police):
    police.bind(A, "粤B12345", "123456")
    police.bind(B, "粤B12345", "123456")
    assert police.pay(A, 1, "p1").ok and police.pay(A, 1, "p1").ok  # the same key: the same answer
    assert police.pay(B, 1, "p2").reason == "already_paid"
    assert [v.id for v in police.violations(B, "粤B12345")] == [2]


def test_fifty_concurrent_payments_of_one_fine_let_exactly_one_through(pg_url):
    upgrade(pg_url)
    engine = make_engine(pg_url, pool_size=60)
    seed_demo(engine, 5)
    police = SimulatedTrafficPolice(engine)
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda n: police.pay(A, 2, f"k{n}"), range(50)))
    assert sum(r.ok for r in results) == 1
    engine.dispose()
