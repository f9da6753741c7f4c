"""Outbound messages from the web process: an outbox row written in the transaction of the change that
caused it, then its id handed to the RQ queue. If the hand-off fails (Redis down), the periodic re-scan
finds the row pending, so a message is late, never lost."""
from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING, Callable

import structlog
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.handoff import HandOff
from integrations.sqltx import utcnow, write
from jobs import outbox
from jobs.tables import Outbox

if TYPE_CHECKING:
    from bot.channels.telegram_outbound import TelegramOutbound

log = structlog.get_logger()
O = Outbox.__table__


def cause_of(*parts: object) -> str:
    """A short unique cause from the facts that make a message one of a kind."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:40]


class Outbound:
    def __init__(self, db: Engine, queue=None, queued: Callable[[], None] | None = None,
                 linger_s: float = 0.005) -> None:
        self.db = db
        self.queue = queue  # an rq.Queue; None: rows wait for the re-scan
        enqueue = (lambda ids: outbox.enqueue(queue, ids)) if queue is not None else None
        self._hand_off = HandOff(enqueue, outbox.BATCH, "outbox_hand_off_failed", queued, linger_s)

    def write(self, msisdn: str, text: str, cause: str, kind: str,
              also: Callable[[Connection], bool] | None = None) -> int | None:
        """Write one message (and `also`'s change, in the same transaction); the row id, or None when
        `also` says the change was already made (a job run twice)."""
        def work(conn: Connection) -> int | None:
            if also is not None and not also(conn):
                return None
            outbox.add(conn, msisdn, text, cause, utcnow(), kind)
            return conn.execute(select(O.c.id).where(O.c.cause == cause)).scalar_one()

        try:
            return write(self.db, work)
        except IntegrityError:  # the same cause written at the same moment by another process: one row
            return None

    async def hand_off(self, ids: list[int]) -> None:
        """Queue the rows for sending, a few milliseconds later and together with whatever else is handed
        off meanwhile (`bot/handoff.py`)."""
        await self._hand_off(ids)

    async def drain(self) -> None:
        """At shutdown: hand off what is pending now rather than leave it to the re-scan."""
        await self._hand_off.drain()


class Confirmations:
    """A confirming USSD screen (a booking code, a payment) sent again as a message, since the USSD screen is
    gone once the session ends: by SMS, or in the subscriber's Telegram chat when they chose it there
    (`/notify`) and the link is active. One message per operation: the cause is the conversation and its
    counter, and the choice of channel is read in the transaction that writes the message."""

    def __init__(self, outbound: Outbound, catalogs, telegram: "TelegramOutbound | None" = None) -> None:
        self.outbound = outbound
        self.catalogs = catalogs
        self.telegram = telegram  # None: no Telegram channel here, every confirmation goes by SMS

    async def send(self, msisdn: str, text, session) -> None:
        from bot.engine.engine import SEQ

        cause = "confirm:" + cause_of(msisdn, session.started, session.values.get(SEQ), *session.location)
        body = self.catalogs.render(session.lang, text)
        if self.telegram is None:
            row = await asyncio.to_thread(self.outbound.write, msisdn, body, cause, "confirmation")
            await self.outbound.hand_off([row] if row else [])
            return
        try:
            where, row = await asyncio.to_thread(write, self.outbound.db, lambda c: self._write(c, msisdn, body, cause))
        except IntegrityError:  # the same cause written at the same moment by another process: one message
            return
        await (self.telegram if where == "telegram" else self.outbound).hand_off([row] if row else [])

    def _write(self, conn: Connection, msisdn: str, body: str, cause: str) -> tuple[str, int | None]:
        """Where the message went and its row; (…, None) when this cause was written already, on either
        channel (a retried hop after the subscriber changed their choice still gets one message)."""
        from bot.channels.telegram_render import Drawn
        from jobs.tables import TelegramOutbox
        from jobs.telegram import chat_for

        TO = TelegramOutbox.__table__
        if conn.execute(select(O.c.id).where(O.c.cause == cause)).first() or conn.execute(
                select(TO.c.id).where(TO.c.cause == cause)).first():
            return "sms", None
        chat = chat_for(conn, msisdn)
        if chat is not None:
            return "telegram", self.telegram.write(conn, chat, msisdn, Drawn(body, ""), cause, "confirmation")
        outbox.add(conn, msisdn, body, cause, utcnow(), "confirmation")
        return "sms", conn.execute(select(O.c.id).where(O.c.cause == cause)).scalar_one()
