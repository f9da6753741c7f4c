"""The SMS part of a text conversation: inbound texts in the `sms_inbox` table, replies in the outbox
(sent from the short code), each reply written in the transaction that marks its message processed. The
replies of concurrent conversations are settled in group commits (`bot/groupcommit.py`): one transaction
marks a batch of messages and writes their replies."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.conversation import InboxRow
from bot.dispatcher import Reply
from bot.groupcommit import GroupCommit
from bot.models import SmsInbox
from bot.outbound import Outbound
from integrations.sqlrows import among, built, values
from integrations.sqltx import utcnow
from jobs import outbox

I = SmsInbox.__table__


class Settle(NamedTuple):
    """One message to mark processed, with its reply (if any) and the change that goes with it."""

    row: InboxRow
    reply: Reply | None
    kind: str
    also: Callable[[Connection], None] | None


class SmsMailbox:
    """An `Inbox` over the SMS tables."""

    channel = "sms"
    wording: dict = {}  # the conversation's own STOP, START and HELP answers are SMS's

    def __init__(self, db: Engine, outbound: Outbound, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.outbound = outbound
        self.clock = clock
        self.commit: GroupCommit[Settle, int | None] = GroupCommit(db, self._settle, "sms_settle")

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

    async def settle(self, row: InboxRow, reply: Reply | None, kind: str,
                     also: Callable[[Connection], None] | None = None) -> int | None:
        try:
            return await self.commit(Settle(row, reply, kind, also))
        except IntegrityError:  # its reply written at the same moment by another process: one message
            return None

    def _settle(self, conn: Connection, items: Sequence[Settle]) -> list[int | None]:
        """Mark the batch's messages (those another run did not mark first), run their changes, write
        their replies; each item's outbox id, None for a message without reply or marked before."""
        marked = set(conn.execute(built(conn, _mark), {"ids": values(conn, [i.row.id for i in items]),
                                                         "now": self.clock()}).scalars())
        mine = []
        for item in items:
            mine.append(item.row.id in marked)
            marked.discard(item.row.id)  # the same message twice in a batch: the first settles it
            if mine[-1] and item.also is not None:
                item.also(conn)
        replies = [(i, m) for i, m in zip(items, mine) if m and i.reply is not None]
        ids = iter(outbox.add_new(conn, [outbox.New(i.row.to, i.reply.text, f"sms-in:{i.row.id}", i.kind)
                                         for i, _ in replies], utcnow()) if replies else [])
        return [next(ids) if m and i.reply is not None else None for i, m in zip(items, mine)]

    async def hand_off(self, ids: list[int]) -> None:
        await self.outbound.hand_off(ids)


def _mark(conn: Connection):
    """Mark these messages processed unless another run did: the ids it marked."""
    return (update(I).where(among(conn, "id", "ids"), I.c.processed_at.is_(None))
            .values(processed_at=bindparam("now")).returning(I.c.id))


def _row(found: Any) -> InboxRow:
    m = found._mapping
    return InboxRow(m["id"], m["msisdn"], m["text"], _aware(m["received_at"]), to=m["msisdn"], ref=m["message_id"],
                    processed=m["processed_at"] is not None)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
