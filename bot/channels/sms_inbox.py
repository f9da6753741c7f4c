"""Inbound SMS written to `sms_inbox` in group commits (`bot/groupcommit.py`): the texts of a burst that
arrive within a millisecond or two share one transaction, and each webhook answers 200 only after it
committed. A redelivery (the same gateway and message id, stored before or earlier in the same batch) is
recognised and stored once. The batch also tells which messages are their subscriber's oldest unanswered
one, so the conversation answers them without reading the inbox back."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.engine import Connection, Engine

from bot.channels.conversation import InboxRow
from bot.groupcommit import GroupCommit
from bot.models import SmsInbox
from integrations.sqlrows import among, built, values

I = SmsInbox.__table__


@dataclass(frozen=True)
class Received:
    """An inbound SMS as the webhook read it (a plain row: a model instance costs ~50 µs to build)."""

    gateway: str
    message_id: str
    msisdn: str  # E.164
    short_code: str
    text: str
    received_at: datetime


@dataclass(frozen=True)
class Stored:
    """A message stored by this request (not a redelivery)."""

    row: InboxRow
    first: bool  # no earlier unanswered message of the subscriber: nothing must be answered before it


class SmsInboxWriter:
    def __init__(self, db: Engine, gateway: str, linger_s: float = 0.001) -> None:
        self.gateway = gateway
        self.commit: GroupCommit[Received, Stored | None] = GroupCommit(db, self._store, "sms_inbox", linger_s)

    async def store(self, row: Received) -> Stored | None:
        """The stored message once committed; None for a redelivery. Raises when the database does."""
        return await self.commit(row)

    async def drain(self) -> None:
        await self.commit.drain()

    def _store(self, conn: Connection, rows: Sequence[Received]) -> list[Stored | None]:
        new = _new(conn, self.gateway, rows)
        fresh = [r for r, is_new in zip(rows, new) if is_new]
        ids = _insert(conn, self.gateway, fresh) if fresh else []
        oldest = _oldest_unanswered(conn, {r.msisdn for r in fresh})
        stored = iter(Stored(_row(r, i), oldest.get(r.msisdn) == i) for r, i in zip(fresh, ids))
        return [next(stored) if is_new else None for is_new in new]


def _new(conn: Connection, gateway: str, rows: Sequence[Received]) -> list[bool]:
    """Which rows are not redeliveries: not stored before, and not an earlier row of this batch."""
    seen = set(_ids(conn, gateway, [r.message_id for r in rows]))
    new = []
    for r in rows:
        new.append(r.message_id not in seen)
        seen.add(r.message_id)
    return new


def _insert(conn: Connection, gateway: str, rows: list[Received]) -> list[int]:
    """One prepared INSERT run for every row (a multi-row statement would be parsed again for each batch
    size), then their ids by message id."""
    conn.execute(_INSERT, [dict(gateway=r.gateway, message_id=r.message_id, msisdn=r.msisdn, short_code=r.short_code,
                                text=r.text, received_at=r.received_at) for r in rows])
    ids = _ids(conn, gateway, [r.message_id for r in rows])
    return [ids[r.message_id] for r in rows]


def _ids(conn: Connection, gateway: str, message_ids: list[str]) -> dict[str, int]:
    return dict(conn.execute(built(conn, _ids_query), {"gateway": gateway, "ids": values(conn, message_ids)}).all())


def _oldest_unanswered(conn: Connection, msisdns: set[str]) -> dict[str, int]:
    return dict(conn.execute(built(conn, _oldest_query), {"numbers": values(conn, msisdns)}).all())


def _ids_query(conn: Connection) -> Select:
    return select(I.c.message_id, I.c.id).where(I.c.gateway == bindparam("gateway"),
                                                among(conn, "message_id", "ids", "text"))


def _oldest_query(conn: Connection) -> Select:
    return (select(I.c.msisdn, func.min(I.c.id)).where(among(conn, "msisdn", "numbers", "text"),
                                                       I.c.processed_at.is_(None)).group_by(I.c.msisdn))


_INSERT = insert(I)


def _row(r: Received, inbox_id: int) -> InboxRow:
    return InboxRow(inbox_id, r.msisdn, r.text, r.received_at, to=r.msisdn, ref=r.message_id)
