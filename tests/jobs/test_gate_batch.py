"""The gate's cap bookkeeping for a whole batch: every row that took a slot is marked, by the claim itself."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select

from bot.db import make_engine, upgrade
from integrations.smsgateway.client import GatewayClient
from jobs.gate import Gate
from jobs.outbox import O, Sender, add

AT = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
NUMBERS = [f"+86139{n:08d}" for n in range(20)]


class Dies(GatewayClient):
    """A worker that dies right after the gate counted its rows, before the gateway took any."""

    def send_many(self, messages, sender=""):
        raise SystemExit


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    yield engine
    engine.dispose()


def test_a_batch_taking_cap_slots_marks_each_row_in_one_statement(engine):
    """20 care reminders to 20 subscribers: each row is marked with its counted day (so a worker taking it
    over does not count it again), by the UPDATE that claims the batch: no statement per row, no second one."""
    with engine.begin() as conn:
        for n, msisdn in enumerate(NUMBERS):
            add(conn, msisdn, "text", f"rem:bill-ready:2026-11:{n}", AT, "reminder", "bill-ready", "care")
    with engine.connect() as conn:
        ids = list(conn.execute(select(O.c.id)).scalars())
    marks: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE outbox"):
            marks.append(statement)

    sender = Sender(engine, Dies("http://127.0.0.1:9", "shortcode", "k"), clock=lambda: AT, gate=Gate())
    with pytest.raises(SystemExit):
        sender.send(ids)
    with engine.connect() as conn:
        errors = conn.execute(select(O.c.error)).scalars().all()
    assert errors == ["cap counted 2026-12-02"] * len(NUMBERS)
    assert len(marks) == 1 and "error = v.err" in marks[0]
