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

from sqlalchemy import delete, select
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
UNSEEN = ("suppressed", "capped", "failed")  # rows the subscriber will never get: no reply to continue them
G, O, TO = ReminderGoto.__table__, Outbox.__table__, TelegramOutbox.__table__


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


def _gotos(conn: Connection):
    return select(G).where(among(conn, "msisdn", "numbers", "text"))


def _chat_rows(conn: Connection):
    return select(TO.c.cause, TO.c.id, TO.c.status, TO.c.created_at).where(among(conn, "cause", "causes", "text"))


def _sms_rows(conn: Connection):
    return select(O.c.cause, O.c.status, O.c.created_at).where(among(conn, "cause", "causes", "text"))


def _by_cause(conn: Connection, query: Callable[[Connection], Any], causes: set[str]) -> dict[str, Any]:
    found = conn.execute(built(conn, query), {"causes": values(conn, causes)}) if causes else ()
    return {r.cause: r for r in found}


def _goto(row: Any, now: datetime, sms: dict[str, Any], chats: dict[str, Any], fallback: dict[str, str]) -> Goto | None:
    """The goto of `row` if it is unexpired and its reminder went out (by SMS, to the chat, or as the SMS
    copy of a chat message Telegram refused: jobs.telegram)."""
    if row is None or _aware(row.expires_at) <= now:
        return None
    copies = [f for f, cause in fallback.items() if cause == row.cause]
    sent = [sms.get(row.cause), *(sms.get(f) for f in copies), chats.get(row.cause)]
    rows = [r for r in sent if r is not None and r.status not in UNSEEN]
    if not rows:
        return None
    return Goto(row.msisdn, row.goto, _values(row.params), row.cause, _aware(rows[0].created_at))


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
        found = {r.msisdn: r for r in conn.execute(built(conn, _gotos), {"numbers": values(conn, {m for m, _ in asks})})}
        causes = {r.cause for r in found.values()}
        chats = _by_cause(conn, _chat_rows, causes)
        fallback = {f"tg-fallback:{c.id}": cause for cause, c in chats.items() if c.status == "failed"}
        sms = _by_cause(conn, _sms_rows, causes | set(fallback))
        return [_goto(found.get(m), now, sms, chats, fallback) for m, now in asks]

    def used(self, goto: Goto) -> Callable[[Connection], None]:
        """Delete the goto with the reply that settles it (only that reminder's: a newer one stays)."""
        def consume(conn: Connection) -> None:
            conn.execute(delete(G).where(G.c.msisdn == goto.msisdn, G.c.cause == goto.cause))
        return consume
