"""Outbound Telegram messages from the web process, as SMS does it (`bot/outbound.py`): a `telegram_outbox`
row written in the transaction of its cause, then its id handed to the RQ queue a few milliseconds later,
together with whatever else was handed off meanwhile. A failed hand-off only delays a row until the re-scan."""
from __future__ import annotations

from typing import Callable

import structlog
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from bot.channels.telegram_render import Drawn
from bot.handoff import HandOff
from integrations.sqltx import utcnow
from jobs import telegram as sending
from jobs.tables import TelegramOutbox

log = structlog.get_logger()
TO = TelegramOutbox.__table__


class TelegramOutbound:
    def __init__(self, queue=None, queued: Callable[[], None] | None = None, linger_s: float = 0.005) -> None:
        self.queue = queue  # an rq.Queue; None: rows wait for the re-scan
        enqueue = (lambda ids: sending.enqueue(queue, ids)) if queue is not None else None
        self._hand_off = HandOff(enqueue, sending.BATCH, "telegram_hand_off_failed", queued, linger_s)

    @staticmethod
    def write(conn: Connection, chat_id: int, msisdn: str, drawn: Drawn | None, cause: str, kind: str,
              edit_message_id: int | None = None, callback_id: str = "", notice: str = "") -> int | None:
        """One Bot API action in the caller's transaction: `drawn` sent (or, with `edit_message_id`, put in
        place of that message), after answering the press `callback_id` with `notice`; `drawn` None answers
        the press alone. The row id, or None when `cause` was written already (its first row stands)."""
        if conn.execute(select(TO.c.id).where(TO.c.cause == cause)).first():
            return None
        now = utcnow()
        return conn.execute(insert(TO).values(
            chat_id=chat_id, msisdn=msisdn, text=drawn.text if drawn else "", markup=drawn.markup if drawn else "",
            edit_message_id=edit_message_id, callback_id=callback_id, notice=notice, cause=cause, kind=kind,
            status="pending", attempts=0, next_attempt_at=now, error="", created_at=now)).inserted_primary_key[0]

    async def hand_off(self, ids: list[int]) -> None:
        """Queue the rows for sending, batched with whatever else is handed off within `linger_s`."""
        await self._hand_off(ids)

    async def drain(self) -> None:
        """At shutdown: hand off what is pending now rather than leave it to the re-scan."""
        await self._hand_off.drain()
