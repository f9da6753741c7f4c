"""Writing a batch of reminders (SQLite and PostgreSQL): each row once by cause, the new ids returned, the values
stored as given; on PostgreSQL the batch goes as one array per column, not a parameter per value."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, select

from jobs.reminder_write import Row, write_rows
from jobs.tables import Outbox, TelegramOutbox
from tests.jobs.reminder_fakes import KINDS, database

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def rows(numbers, chat=None) -> list[Row]:
    return [Row(m, f"rem:bill-ready:2026-11:{m}", f"bill of {m}", chat, {}) for m in numbers]


def test_a_batch_is_written_once_with_its_values_and_new_ids_returned(sql_url):
    numbers = [f"+86138{n:08d}" for n in range(120)]
    engine = database(sql_url, [])
    statements: list[tuple[str, int]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO outbox"):
            statements.append((statement, len(parameters) if isinstance(parameters, (dict, tuple, list)) else 0))

    kind = KINDS["bill-ready"]
    sms, tg = write_rows(engine, kind, rows(numbers[:100]) + rows(numbers[100:102], chat=77), NOW)
    again, _ = write_rows(engine, kind, rows(numbers[90:120]), NOW)
    with engine.connect() as conn:
        stored = conn.execute(select(Outbox.__table__).order_by(Outbox.id)).all()
        chats = conn.execute(select(TelegramOutbox.__table__)).all()
    assert (len(sms), len(tg), len(again)) == (100, 2, 18)  # 90-99 were written, 100-101 went to Telegram
    assert [r.id for r in stored] == sms + again and len({r.cause for r in stored}) == 118
    first = stored[0]
    assert (first.msisdn, first.text, first.cause, first.kind, first.topic, first.cap_class, first.status,
            first.attempts, first.error) == (numbers[0], f"bill of {numbers[0]}", f"rem:bill-ready:2026-11:{numbers[0]}",
                                             "reminder", "bill-ready", "care", "pending", 0, "")
    assert first.next_attempt_at.replace(tzinfo=timezone.utc) == NOW
    assert [(c.msisdn, c.chat_id) for c in chats] == [(numbers[100], 77), (numbers[101], 77)]
    if engine.dialect.name == "postgresql":  # one statement a batch, a parameter per column
        assert len(statements) == 2 and all(n <= 11 for _, n in statements)
    engine.dispose()
