"""Outbound Telegram messages from the web process, as SMS does it (`bot/outbound.py`): a `telegram_outbox`
row written in the transaction of its cause, then its id handed to the RQ queue a few milliseconds later,
together with whatever else was handed off meanwhile. A failed hand-off only delays a row until the re-scan."""
from __future__ import annotations

import asyncio
from typing import Callable

import structlog
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from bot.channels.telegram_render import Drawn
from integrations.sqltx import utcnow
from jobs import telegram as sending
from jobs.tables import TelegramOutbox

log = structlog.get_logger()
TO = TelegramOutbox.__table__


class TelegramOutbound:
    def __init__(self, queue=None, queued: Callable[[], None] | None = None, linger_s: float = 0.005) -> None:
        self.queue = queue  # an rq.Queue; None: rows wait for the re-scan
        self.queued = queued  # tells an in-process worker to look at the queue now
        self.linger_s = linger_s  # ids handed off within this window share one RQ job
        self._pending: list[int] = []
        self._flusher: asyncio.Task | None = None

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
        if not ids or self.queue is None:
            return
        self._pending += ids
        if len(self._pending) >= sending.BATCH:
            await self._flush()
        elif self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.linger_s)
        self._flusher = None
        await self._flush()

    async def _flush(self) -> None:
        ids, self._pending = self._pending, []
        if not ids:
            return
        try:
            await asyncio.to_thread(sending.enqueue, self.queue, ids)
            if self.queued:
                self.queued()
        except Exception as exc:  # Redis down: the rows stay pending and the re-scan sends them
            log.warning("telegram_hand_off_failed", error=type(exc).__name__, rows=len(ids))

    async def drain(self) -> None:
        """At shutdown: hand off what is pending now rather than leave it to the re-scan."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self._flush()
