"""A reply to a reminder ("Reply 1 to top up"): the flow state it continues, looked up for a text
conversation, and used once.

The rule (docs/reminders.md): a text "1" continues the subscriber's latest unexpired reminder that names a
flow state (`reminder_goto`) and that is on its way or delivered, unless it answers a live session instead:
the session is live (inside the channel's session window, not ended) and either the subscriber has answered
it since the reminder was written (its last hop is later), or it is asking a question ("How many points?"),
where 1 is an answer. An idle, ended or absent session never keeps it. The goto is deleted in the
transaction that settles the reply, so a second "1" is ordinary input."""
from __future__ import annotations

import asyncio
import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine as DbEngine

from bot.channels.table import Channel
from bot.engine.engine import Engine
from bot.engine.flow import Ask
from bot.engine.session import Session
from bot.store import SessionStore
from jobs.tables import Outbox, ReminderGoto, TelegramOutbox

REPLY = "1"  # the reply every template with a goto names ("Reply 1 to ...", jobs/reminder_kinds.py checks)
UNSEEN = ("suppressed", "capped", "failed", "held", "cancelled")  # rows the subscriber has not got (held: a
# paused campaign's, cancelled: a cancelled one's) or never will: no reply to continue them
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

    async def find(self, msisdn: str, text: str, now: datetime) -> Goto | None:
        """The reminder this text continues, or None when it is ordinary input."""
        if unicodedata.normalize("NFKC", text).strip() != REPLY:  # "１" from a Chinese keyboard too
            return None
        goto = await asyncio.to_thread(self.pending, msisdn, now)
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

    def pending(self, msisdn: str, now: datetime) -> Goto | None:
        """The subscriber's unexpired goto whose reminder they get (not held back by opt-out or a cap)."""
        with self.db.connect() as conn:
            row = conn.execute(select(G).where(G.c.msisdn == msisdn)).first()
            if row is None or _aware(row.expires_at) <= now:
                return None
            sent = [conn.execute(select(O.c.status, O.c.created_at).where(O.c.cause == row.cause)).first()]
            chat = conn.execute(select(TO.c.id, TO.c.status, TO.c.created_at).where(TO.c.cause == row.cause)).first()
            if chat is not None and chat.status == "failed":  # Telegram refused it: its SMS copy (jobs.telegram)
                sent.append(conn.execute(select(O.c.status, O.c.created_at).where(
                    O.c.cause == f"tg-fallback:{chat.id}")).first())
            sent.append(chat)
        rows = [r for r in sent if r is not None and r.status not in UNSEEN]
        if not rows:
            return None
        return Goto(msisdn, row.goto, _values(row.params), row.cause, _aware(rows[0].created_at))

    def used(self, goto: Goto) -> Callable[[Connection], None]:
        """Delete the goto with the reply that settles it (only that reminder's: a newer one stays)."""
        def consume(conn: Connection) -> None:
            conn.execute(delete(G).where(G.c.msisdn == goto.msisdn, G.c.cause == goto.cause))
        return consume
