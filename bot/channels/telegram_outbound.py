"""STAND-IN (tg-in's branch): the Telegram outbound hand-off's agreed signature. It writes the
`telegram_outbox` row; the sending job is tg-out's, whose version replaces this file at merge."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from bot.channels.telegram_render import Drawn
from integrations.sqltx import utcnow
from jobs.tables import TelegramOutbox

O = TelegramOutbox.__table__


class TelegramOutbound:
    def __init__(self, db: Engine, queue=None) -> None:
        self.db = db
        self.queue = queue

    def write(self, conn: Connection, chat_id: int, msisdn: str, drawn: Drawn | None, cause: str, kind: str,
              edit_message_id: int | None = None, callback_id: str = "", notice: str = "") -> int | None:
        """One Bot API action in the caller's transaction; None when the cause was written already."""
        if conn.execute(select(O.c.id).where(O.c.cause == cause)).first():
            return None
        now = utcnow()
        values = dict(chat_id=chat_id, msisdn=msisdn, text=drawn.text if drawn else "",
                      markup=drawn.markup if drawn else "", edit_message_id=edit_message_id,
                      callback_id=callback_id, notice=notice, cause=cause, kind=kind, status="pending",
                      attempts=0, next_attempt_at=now, error="", created_at=now)
        return conn.execute(insert(O).values(**values)).inserted_primary_key[0]

    async def hand_off(self, ids: list[int]) -> None:
        """The stand-in leaves the rows pending (tg-out's sender queues them)."""
