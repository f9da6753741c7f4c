"""The SMS part of a text conversation: inbound texts in the `sms_inbox` table, replies in the outbox
(sent from the short code), each reply written in the transaction that marks its message processed."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from bot.channels.conversation import InboxRow
from bot.dispatcher import Reply
from bot.models import SmsInbox
from bot.outbound import Outbound
from integrations.sqltx import utcnow, write

I = SmsInbox.__table__


class SmsMailbox:
    """An `Inbox` over the SMS tables."""

    channel = "sms"
    wording: dict = {}  # the conversation's own STOP, START and HELP answers are SMS's

    def __init__(self, db: Engine, outbound: Outbound, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.outbound = outbound
        self.clock = clock

    def row(self, row_id: int) -> InboxRow | None:
        with self.db.connect() as conn:
            found = conn.execute(select(I).where(I.c.id == row_id)).first()
        return _row(found) if found else None

    def unanswered(self, msisdn: str, up_to: int, limit: int = 100) -> list[InboxRow]:
        with self.db.connect() as conn:
            found = conn.execute(select(I).where(I.c.msisdn == msisdn, I.c.processed_at.is_(None), I.c.id <= up_to)
                                 .order_by(I.c.id).limit(limit)).all()
        return [_row(r) for r in found]

    def unprocessed(self, before: datetime, limit: int = 1000) -> list[int]:
        with self.db.connect() as conn:
            return list(conn.execute(select(I.c.id).where(I.c.processed_at.is_(None), I.c.received_at < before)
                                     .order_by(I.c.id).limit(limit)).scalars())

    def settle(self, row: InboxRow, reply: Reply | None, kind: str,
               also: Callable[[Connection], None] | None = None) -> int | None:
        def mark(conn: Connection) -> bool:
            done = conn.execute(update(I).where(I.c.id == row.id, I.c.processed_at.is_(None))
                                .values(processed_at=self.clock())).rowcount
            if done == 1 and also is not None:
                also(conn)
            return done == 1  # False: another run processed it

        if reply is None:
            write(self.db, mark)
            return None
        return self.outbound.write(row.to, reply.text, f"sms-in:{row.id}", kind, mark)

    async def hand_off(self, ids: list[int]) -> None:
        await self.outbound.hand_off(ids)


def _row(found: Any) -> InboxRow:
    m = found._mapping
    return InboxRow(m["id"], m["msisdn"], m["text"], _aware(m["received_at"]), to=m["msisdn"], ref=m["message_id"],
                    processed=m["processed_at"] is not None)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
