"""Delivery reports: shuffled and repeated reports end at the right status; early ones wait."""
from __future__ import annotations

import itertools
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import insert, select, update

from bot.db import make_engine, upgrade
from bot.models import Outbox
from jobs.delivery import apply_parked, moves_forward, record_report

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
IDS = itertools.count()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('d')}/d.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def message(engine, message_id):
    with engine.begin() as conn:
        conn.execute(insert(Outbox.__table__).values(msisdn="+8613800000001", text="x", cause=message_id,
                                                     status="sent", attempts=1, next_attempt_at=NOW, error="",
                                                     gateway_message_id=message_id, created_at=NOW))


def status(engine, message_id):
    with engine.connect() as conn:
        return conn.execute(select(Outbox.dlr_status).where(Outbox.gateway_message_id == message_id)).scalar_one()


def test_forward_only_rules():
    assert moves_forward(None, "Sent") and moves_forward("Sent", "Success") and moves_forward("Buffered", "Failed")
    assert not moves_forward("Success", "Sent") and not moves_forward("Success", "Failed")
    assert not moves_forward("Sent", "Sent")


@settings(max_examples=50, deadline=None)
@given(final=st.sampled_from(["Success", "Failed", "Rejected"]), extra=st.lists(
    st.sampled_from(["Submitted", "Buffered", "Sent"]), max_size=4), repeats=st.integers(1, 3),
    seed=st.integers(0, 10_000))
def test_shuffled_and_repeated_reports_end_at_the_final_status(engine, final, extra, repeats, seed):
    message_id = f"m{next(IDS)}"
    message(engine, message_id)
    reports = (extra + [final]) * repeats
    random.Random(seed).shuffle(reports)
    for report in reports:
        record_report(engine, message_id, report, NOW)
    assert status(engine, message_id) == final


def test_a_report_for_an_unknown_id_waits_for_the_id(engine):
    assert record_report(engine, "early", "Success", NOW) == "parked"
    message(engine, "early")
    with engine.begin() as conn:
        conn.execute(update(Outbox.__table__).where(Outbox.gateway_message_id == "early").values(dlr_status=None))
        apply_parked(conn, "early")
    assert status(engine, "early") == "Success"
