"""Outbound messages from the web process: an outbox row written in the transaction of the change that
caused it, then its id handed to the RQ queue. If the hand-off fails (Redis down), the periodic re-scan
finds the row pending, so a message is late, never lost."""
from __future__ import annotations

import asyncio
import hashlib
from typing import Callable

import structlog
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.handoff import HandOff
from integrations.sqltx import utcnow, write
from jobs import outbox
from jobs.tables import Outbox

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


class SmsConfirmations:
    """A confirming USSD screen (a booking code, a payment) sent again by SMS: the USSD screen is gone
    once the session ends. One message per operation: the cause is the conversation and its counter."""

    def __init__(self, outbound: Outbound, catalogs) -> None:
        self.outbound = outbound
        self.catalogs = catalogs

    async def send(self, msisdn: str, text, session) -> None:
        from bot.engine.engine import SEQ

        cause = "confirm:" + cause_of(msisdn, session.started, session.values.get(SEQ), *session.location)
        row = await asyncio.to_thread(self.outbound.write, msisdn, self.catalogs.render(session.lang, text),
                                      cause, "confirmation")
        await self.outbound.hand_off([row] if row else [])
