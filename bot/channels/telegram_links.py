"""Which Telegram user is which subscriber (`telegram_link`), and the history of every change
(`telegram_link_event`). One user per subscriber at a time: a link made by another user moves it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.models import TelegramLink, TelegramLinkEvent

L = TelegramLink.__table__
E = TelegramLinkEvent.__table__


@dataclass(frozen=True)
class Linked:
    msisdn: str
    chat_id: int
    active: bool
    notify: bool = False  # confirmations and reminders come to the chat (`telegram_notify`)


def linked(conn: Connection, user_id: int) -> Linked | None:
    found = conn.execute(select(L.c.msisdn, L.c.chat_id, L.c.active, L.c.notify).where(L.c.user_id == user_id)).first()
    return Linked(found.msisdn, found.chat_id, found.active, found.notify) if found else None


def lookup(db: Engine, user_id: int) -> Linked | None:
    with db.connect() as conn:
        return linked(conn, user_id)


def link(conn: Connection, user_id: int, chat_id: int, msisdn: str, update_id: int, now: datetime) -> str:
    """Link the user to the subscriber, in the caller's transaction: "linked", "moved" (the subscriber
    was another user's) or "relinked" (the same link again)."""
    holder = conn.execute(select(L.c.user_id).where(L.c.msisdn == msisdn)).scalar()
    mine = linked(conn, user_id)
    if holder == user_id:
        return "relinked"
    event = "linked"
    if holder is not None:
        conn.execute(delete(L).where(L.c.user_id == holder))
        _record(conn, holder, msisdn, "moved", update_id, now)
        event = "moved"
    if mine is not None:  # the user had another number: that link ends
        conn.execute(delete(L).where(L.c.user_id == user_id))
        _record(conn, user_id, mine.msisdn, "unlinked", update_id, now)
    conn.execute(insert(L).values(user_id=user_id, msisdn=msisdn, chat_id=chat_id, active=True, linked_at=now,
                                  update_id=update_id))
    _record(conn, user_id, msisdn, "linked", update_id, now)
    return event


def unlink(conn: Connection, user_id: int, update_id: int, now: datetime) -> str | None:
    """Remove the user's link; the number it was, or None when there was none."""
    mine = linked(conn, user_id)
    if mine is None:
        return None
    conn.execute(delete(L).where(L.c.user_id == user_id))
    _record(conn, user_id, mine.msisdn, "unlinked", update_id, now)
    return mine.msisdn


def reactivate(conn: Connection, user_id: int, chat_id: int, update_id: int, now: datetime) -> bool:
    """The user of an inactive link (they had blocked the bot) wrote again, so the bot can reach them:
    sending resumes. False when the link was active already (another run did it)."""
    done = conn.execute(update(L).where(L.c.user_id == user_id, L.c.active == False)  # noqa: E712
                        .values(active=True, chat_id=chat_id)).rowcount == 1
    if done:
        msisdn = conn.execute(select(L.c.msisdn).where(L.c.user_id == user_id)).scalar_one()
        _record(conn, user_id, msisdn, "unblocked", update_id, now)
    return done


def _record(conn: Connection, user_id: int, msisdn: str, event: str, update_id: int | None, now: datetime) -> None:
    conn.execute(insert(E).values(user_id=user_id, msisdn=msisdn, event=event, update_id=update_id, at=now))
