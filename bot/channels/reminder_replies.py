"""A reply to a reminder ("Reply 1 to top up"): the flow state it continues, looked up for a text
conversation, and used once.

The rule (docs/reminders.md): a text "1" continues the subscriber's latest unexpired reminder that names a
flow state (`reminder_goto`) and that is on its way or delivered, unless it answers a live session instead:
the session is live (inside the channel's session window, not ended) and either the subscriber has answered
it since the reminder was written (its last hop is later), or it is asking a question ("How many points?"),
where 1 is an answer. An idle, ended or absent session never keeps it. The goto is deleted in the
transaction that settles the reply, so a second "1" is ordinary input."""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from sqlalchemy import Select, String, and_, bindparam, cast, delete, literal, select
from sqlalchemy.engine import Connection, Engine as DbEngine

from bot.channels.table import Channel
from bot.engine.engine import Engine
from bot.engine.flow import Ask
from bot.engine.session import Session
from bot.groupcommit import GroupCommit, read
from integrations.sqlrows import among, built, values
from bot.store import SessionStore
from jobs.tables import Outbox, ReminderGoto, TelegramOutbox

REPLY = "1"  # the reply every template with a goto names ("Reply 1 to ...", jobs/reminder_kinds.py checks)
UNSEEN = ("suppressed", "capped", "failed", "held", "cancelled")  # rows the subscriber has not got (held: a
# paused campaign's, cancelled: a cancelled one's) or never will: no reply to continue them
G, O, TO = ReminderGoto.__table__, Outbox.__table__, TelegramOutbox.__table__
_CONSUME = delete(G).where(G.c.msisdn == bindparam("msisdn"), G.c.cause == bindparam("cause"))  # built once: per reply


@dataclass(frozen=True)
class Goto:
    """A reminder a reply may continue: where, with which values, and when it was written."""

    msisdn: str
    goto: str  # FLOW.STATE
    values: tuple[tuple[str, Any], ...]
    cause: str
    written_at: datetime


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC times; PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _gotos_with_their_messages(conn: Connection) -> Select:
    """The gotos of these subscribers, each with its reminder as sent by SMS, to a Telegram chat, and as the
    SMS copy of a chat message Telegram refused (jobs.telegram): one statement for a batch."""
    copy = O.alias("tg_copy")
    sent_copy = and_(TO.c.status == "failed", copy.c.cause == literal("tg-fallback:") + cast(TO.c.id, String))
    return (select(G, O.c.status.label("sms_status"), O.c.created_at.label("sms_at"),
                   copy.c.status.label("copy_status"), copy.c.created_at.label("copy_at"),
                   TO.c.status.label("chat_status"), TO.c.created_at.label("chat_at"))
            .select_from(G.outerjoin(O, O.c.cause == G.c.cause).outerjoin(TO, TO.c.cause == G.c.cause)
                         .outerjoin(copy, sent_copy))
            .where(among(conn, "reminder_goto.msisdn", "numbers", "text")))


def _goto(row: Any, now: datetime) -> Goto | None:
    """The goto of `row` if it is unexpired and its reminder went out: the first copy the subscriber gets."""
    if row is None or _aware(row.expires_at) <= now:
        return None
    sent = [(row.sms_status, row.sms_at), (row.copy_status, row.copy_at), (row.chat_status, row.chat_at)]
    seen = [at for status, at in sent if status is not None and status not in UNSEEN]
    if not seen:
        return None
    return Goto(row.msisdn, row.goto, _values(row.params), row.cause, _aware(seen[0]))


def _values(raw: str) -> tuple[tuple[str, Any], ...]:
    """The reminder's values as session values (plain scalars only: a session holds nothing else)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return ()
    plain = (str, int, bool, type(None))
    return tuple(sorted((k, v) for k, v in data.items() if isinstance(v, plain))) if isinstance(data, dict) else ()


class ReminderReplies:
    """The lookup a text conversation is lent: `find` a reminder a text continues, `used` to consume it."""

    def __init__(self, db: DbEngine, store: SessionStore, channel: Channel, engine: Engine) -> None:
        self.db = db
        self.store = store  # the channel's sessions, peeked without the lock (the turn takes it)
        self.channel = channel
        self.engine = engine  # for the channel's session window and the state a session shows
        self._pending = GroupCommit(db, self.pending, "reminder_gotos", linger_s=0, run=read)

    async def find(self, msisdn: str, text: str, now: datetime) -> Goto | None:
        """The reminder this text continues, or None when it is ordinary input."""
        if unicodedata.normalize("NFKC", text).strip() != REPLY:  # "１" from a Chinese keyboard too
            return None
        goto = await self._pending((msisdn, now))
        if goto is None:
            return None
        session = await self.store.peek(self.channel.session_key(msisdn))
        return None if self.session_keeps(session, goto, now) else goto

    def session_keeps(self, session: Session | None, goto: Goto, now: datetime) -> bool:
        """Whether "1" answers the live session rather than the reminder (the rule in the module docstring)."""
        if session is None or not self.engine.live(session, now):
            return False
        asking = isinstance(self.engine.state(session.flow, session.state), Ask)
        return asking or session.updated > goto.written_at.timestamp()

    def pending(self, conn: Connection, asks: Sequence[tuple[str, datetime]]) -> list[Goto | None]:
        """For each (subscriber, now): their unexpired goto whose reminder they get (not held back by opt-out
        or a cap). Set-based: the "1"s of a burst are looked up together."""
        query = built(conn, _gotos_with_their_messages)
        found = {r.msisdn: r for r in conn.execute(query, {"numbers": values(conn, {m for m, _ in asks})})}
        return [_goto(found.get(m), now) for m, now in asks]

    def used(self, goto: Goto) -> Callable[[Connection], None]:
        """Delete the goto with the reply that settles it (only that reminder's: a newer one stays)."""
        def consume(conn: Connection) -> None:
            conn.execute(_CONSUME, {"msisdn": goto.msisdn, "cause": goto.cause})
        return consume
