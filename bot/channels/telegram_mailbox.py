"""The Telegram part of a text conversation: a linked user's texts, presses and conversational commands in
`telegram_inbox`, their answers in `telegram_outbox`, each written in the transaction that marks its update
processed. A press is the input its button stands for, applied only at the hop its menu was drawn at."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import and_, exists, select, update
from sqlalchemy.engine import Connection, Engine

from bot.channels.buttons import decode
from bot.channels.conversation import InboxRow
from bot.channels.telegram_outbound import TelegramOutbound
from bot.channels.telegram_render import draw
from bot.channels.telegram_updates import command
from bot.dispatcher import Reply
from bot.engine.catalogs import Catalogs
from bot.engine.text import T
from bot.models import TelegramInbox, TelegramLink
from integrations.sqltx import utcnow, write
from jobs.tables import OptOut

I, L, OPT = TelegramInbox.__table__, TelegramLink.__table__, OptOut.__table__
EXPIRED = T("This menu has expired.")
HELP = T("Press the buttons, or type their numbers. /menu: the main menu. /lang: 中文 or English. "
         "/notify: booking codes and reminders here or by SMS. /stop: no more reminders or offers. "
         "/unlink: forget this chat. Care: 10086.")
# the compliance answers in this chat's words: a chat user sends commands, not texts to a short code
STOPPED = T("You will get no more reminders or offers from {short_code}. Send /start to get them again.")
STARTED = T("You will get reminders and offers from {short_code} again. Send /stop to stop them.")
CONVERSED = frozenset({"start", "menu", "lang", "stop"})  # commands the conversation answers
NEVER = -1  # the hop of a press we cannot read: never the session's


class TelegramMailbox:
    """An `Inbox` over the Telegram tables, for users linked to a subscriber."""

    channel = "telegram"
    wording = {"stop": STOPPED, "start": STARTED, "help": HELP}

    def __init__(self, db: Engine, outbound: TelegramOutbound, catalogs: Catalogs, root: str, default_lang: str,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.outbound = outbound
        self.catalogs = catalogs
        self.root = root  # the main menu: /menu, /lang and a new link begin there
        self.default_lang = default_lang
        self.clock = clock

    def row(self, row_id: int) -> InboxRow | None:
        with self.db.connect() as conn:
            found = conn.execute(_joined().where(I.c.id == row_id)).first()
            return self._row(conn, found) if found and conversed(found) else None

    def unanswered(self, msisdn: str, up_to: int, limit: int = 100) -> list[InboxRow]:
        with self.db.connect() as conn:
            found = conn.execute(_joined().where(L.c.msisdn == msisdn, I.c.processed_at.is_(None), I.c.id <= up_to)
                                 .order_by(I.c.id).limit(limit)).all()
            return [self._row(conn, r) for r in found if conversed(r)]

    def unprocessed(self, before: datetime, limit: int = 1000) -> list[int]:
        """Every kind: the Telegram chat routes each (linking, commands, the conversation)."""
        with self.db.connect() as conn:
            return list(conn.execute(select(I.c.id).where(I.c.processed_at.is_(None), I.c.received_at < before)
                                     .order_by(I.c.id).limit(limit)).scalars())

    async def settle(self, row: InboxRow, reply: Reply | None, kind: str,
                     also: Callable[[Connection], None] | None = None) -> int | None:
        return await asyncio.to_thread(self._settle, row, reply, kind, also)

    def _settle(self, row: InboxRow, reply: Reply | None, kind: str,
                also: Callable[[Connection], None] | None) -> int | None:
        def work(conn: Connection) -> int | None:
            if not mark(conn, row.id, self.clock()):
                return None  # another run processed it
            if also is not None:
                also(conn)
            return self._write(conn, row, reply, kind) if reply is not None else None

        return write(self.db, work)

    async def hand_off(self, ids: list[int]) -> None:
        await self.outbound.hand_off(ids)

    def _write(self, conn: Connection, row: InboxRow, reply: Reply, kind: str) -> int | None:
        """A press is answered and its message edited; an expired one only answered; text gets a message."""
        extra = conn.execute(select(I.c.chat_id, I.c.message_id, I.c.callback_id).where(I.c.id == row.id)).one()
        cause = f"tg-in:{row.id}"
        if reply.expired:
            notice = self.catalogs.render(reply.lang or self.default_lang, EXPIRED)
            return self.outbound.write(conn, extra.chat_id, row.msisdn, None, cause, kind,
                                       callback_id=extra.callback_id, notice=notice)
        edit = extra.message_id if extra.callback_id else None
        return self.outbound.write(conn, extra.chat_id, row.msisdn, draw(reply, row.id, self.catalogs), cause,
                                   kind, edit_message_id=edit, callback_id=extra.callback_id)

    def _row(self, conn: Connection, found: Any) -> InboxRow:
        m = found._mapping
        base = dict(id=m["id"], msisdn=m["msisdn"], received_at=_aware(m["received_at"]), to=str(m["chat_id"]),
                    ref=f"{m['bot']}:{m['update_id']}", processed=m["processed_at"] is not None)
        if m["kind"] == "press":
            press = decode(m["data"])
            return InboxRow(text=press.input if press else "", expect_hop=press.hop if press else NEVER, **base)
        name = command(m["text"]) if m["kind"] == "command" else None
        if name == "stop":
            return InboxRow(text="STOP", **base)
        if name == "start" and _opted_out(conn, m["msisdn"]):
            return InboxRow(text="START", **base)
        if name or m["kind"] == "contact":
            return InboxRow(text="", start=self.root, **base)
        return InboxRow(text=m["text"], **base)


def conversed(found: Any) -> bool:
    """Whether the conversation answers this row (the Telegram chat answers the others itself)."""
    m = found._mapping
    kind = m["kind"]
    if kind == "contact":  # the user's own number, once linked: the main menu follows
        return m["contact_user_id"] == m["user_id"]
    return kind in ("text", "press") or (kind == "command" and command(m["text"]) in CONVERSED)


def mark(conn: Connection, row_id: int, now: datetime) -> bool:
    """Mark the update processed; False when another run did."""
    return conn.execute(update(I).where(I.c.id == row_id, I.c.processed_at.is_(None))
                        .values(processed_at=now)).rowcount == 1


def _joined():
    return select(I, L.c.msisdn).join(L, L.c.user_id == I.c.user_id)


def _opted_out(conn: Connection, msisdn: str) -> bool:
    return bool(conn.execute(select(exists().where(and_(OPT.c.msisdn == msisdn, OPT.c.opted_out.is_(True))))).scalar())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
