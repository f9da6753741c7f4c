"""The `telegram_inbox` table's writes and reads that are not the conversation's: storing an update once,
and where the poller resumes."""
from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.models import TelegramInbox
from integrations.sqltx import write

I = TelegramInbox.__table__


def store(db: Engine, row: TelegramInbox) -> int | None:
    """Insert the update and commit; its inbox id, or None when (bot, update_id) is already stored."""
    values = {c.name: getattr(row, c.name) for c in I.columns if c.name not in ("id", "processed_at")}

    def work(conn: Connection) -> int | None:
        if conn.execute(select(I.c.id).where(I.c.bot == row.bot, I.c.update_id == row.update_id)).first():
            return None
        return conn.execute(insert(I).values(**values)).inserted_primary_key[0]

    try:
        return write(db, work)
    except IntegrityError:  # stored at the same moment by another process: one row
        return None


def next_offset(db: Engine, bot: str) -> int:
    """getUpdates' offset after a restart: one past the highest update this bot stored (0: none yet)."""
    with db.connect() as conn:
        top = conn.execute(select(func.max(I.c.update_id)).where(I.c.bot == bot)).scalar()
    return 0 if top is None else top + 1
