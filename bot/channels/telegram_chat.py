"""A Telegram update, from the inbox to its answer. A chat user is nobody until they share their own
number and it is a subscriber's; then their texts, presses and most commands go to the shared text
conversation, as SMS does. /help and /unlink, and everything an unlinked user says, are answered here."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Callable

import structlog
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from bot.channels import telegram_links as links
from bot.channels import telegram_notify as notify
from bot.channels.conversation import TextConversation
from bot.channels.telegram_mailbox import HELP, mark
from bot.channels.telegram_outbound import TelegramOutbound
from bot.channels.telegram_render import Drawn
from bot.channels.telegram_updates import command
from bot.engine.catalogs import Catalogs
from bot.engine.text import T
from bot.models import Subscriber, TelegramInbox
from bot.msisdn import BadNumber, mask, normalise
from bot.subscribers import Subscribers
from integrations.sqltx import utcnow, write

log = structlog.get_logger()
I, S = TelegramInbox.__table__, Subscriber.__table__

ASK = T("Welcome to {operator}. To use the service in this chat, share your phone number with the button "
        "below.")
SHARE = T("Share my phone number")
NOT_YOURS = T("Please share your own number with the button below, not someone else's contact.")
NOT_SUBSCRIBER = T("Sorry, this number is not a {operator} subscriber, so this chat cannot be linked to it.")
LINKED = T("Your number is now linked to this chat. Booking codes and reminders still come by SMS: send /notify "
           "to get them here instead.")
UNLINKED = T("This chat is no longer linked to your number. Send /start to link it again.")
LANGS = ("zh_Hans", "en")
LANG_NAMES = {"zh": "zh_Hans", "zh_hans": "zh_Hans", "cn": "zh_Hans", "中文": "zh_Hans", "en": "en", "english": "en"}


class TelegramChat:
    def __init__(self, db: Engine, outbound: TelegramOutbound, conversation: TextConversation,
                 subscribers: Subscribers, catalogs: Catalogs, operator: str, region: str, default_lang: str,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.outbound = outbound
        self.conversation = conversation
        self.subscribers = subscribers
        self.catalogs = catalogs
        self.operator = operator
        self.region = region  # contacts come without a +: normalised as the subscriber's region writes them
        self.default_lang = default_lang
        self.clock = clock

    async def process(self, inbox_id: int) -> bool:
        """Answer this update once; False when it must be tried again later."""
        row = await asyncio.to_thread(self._read, inbox_id)
        if row is None or row.processed_at is not None:
            return True
        structlog.contextvars.bind_contextvars(channel="telegram", session=f"{row.bot}:{row.update_id}")
        who = await asyncio.to_thread(links.lookup, self.db, row.user_id)
        if who is not None and not who.active and row.kind != "other":  # they unblocked the bot: reach them again
            await asyncio.to_thread(write, self.db, lambda conn: links.reactivate(
                conn, row.user_id, row.chat_id, row.update_id, self.clock()))
        if row.kind == "contact":
            return await self._contact(row)
        name = command(row.text) if row.kind == "command" else None
        if who is None:
            return await self._direct(row, lambda conn: (None, self._ask()) if row.kind != "other" else (None, None))
        if name == "help":
            return await self._direct(row, lambda conn: (who.msisdn, self._say(self._lang(who.msisdn), HELP)))
        if name == "unlink":
            return await self._direct(row, lambda conn: self._unlink(conn, row, who.msisdn))
        if name == "notify":
            return await self._direct(row, lambda conn: (who.msisdn, notify.ask(
                self.catalogs, self._lang(who.msisdn), who.notify)))
        if row.kind == "press" and (in_chat := notify.chosen(row.data)) is not None:
            return await self._direct(row, lambda conn: (who.msisdn, notify.choose(
                conn, row.user_id, who.msisdn, in_chat, row.update_id, self.clock(), self.catalogs,
                self._lang(who.msisdn))), edit=True)
        if row.kind not in ("text", "press", "command"):
            return await self._direct(row, lambda conn: (who.msisdn, None))
        if name == "lang":
            await asyncio.to_thread(write, self.db, lambda conn: self._switch_language(conn, row.id, who.msisdn))
        return await self.conversation.process(inbox_id)

    def unprocessed(self, older_than, limit: int = 1000) -> list[int]:
        """Updates acknowledged but never answered (a process died): the re-scan processes them."""
        return self.conversation.unprocessed(older_than, limit)

    async def _contact(self, row: Any) -> bool:
        """Link the user to the number they shared, when it is their own and a subscriber's."""
        if row.contact_user_id != row.user_id:
            log.info("telegram_contact_refused", reason="not_own")
            return await self._direct(row, lambda conn: (None, self._ask(NOT_YOURS)))
        try:
            msisdn = normalise("+" + row.contact_phone.lstrip("+"), self.region)
        except BadNumber:
            msisdn = ""
        if not msisdn or await asyncio.to_thread(self.subscribers.profile, msisdn) is None:
            log.info("telegram_contact_refused", reason="not_subscriber")
            text = self._say(self.default_lang, T(NOT_SUBSCRIBER.msgid, operator=self.operator))
            return await self._direct(row, lambda conn: (None, text))
        event, confirmation = await asyncio.to_thread(self._link, row, msisdn)
        log.info("telegram_linked", change=event, msisdn=mask(msisdn))
        # handed off before the menu is written, so the sender sends it first (not at the next re-scan)
        await self.outbound.hand_off([confirmation] if confirmation else [])
        return await self.conversation.process(row.id)  # the main menu

    def _link(self, row: Any, msisdn: str) -> tuple[str, int | None]:
        """The link and its confirmation, once (a retry finds the cause written): the event and the
        confirmation's outbox row."""
        lang = self._lang(msisdn)
        done = Drawn(self.catalogs.render(lang, LINKED), json.dumps({"remove_keyboard": True}))

        def work(conn: Connection) -> tuple[str, int | None]:
            event = links.link(conn, row.user_id, row.chat_id, msisdn, row.update_id, self.clock())
            return event, self.outbound.write(conn, row.chat_id, msisdn, done, f"tg-link:{row.id}", "reply")
        return write(self.db, work)

    def _unlink(self, conn: Connection, row: Any, msisdn: str) -> tuple[str, Drawn]:
        links.unlink(conn, row.user_id, row.update_id, self.clock())
        log.info("telegram_unlinked", msisdn=mask(msisdn))
        return msisdn, Drawn(self.catalogs.render(self._lang(msisdn), UNLINKED), json.dumps({"remove_keyboard": True}))

    async def _direct(self, row: Any, answer: Callable[[Connection], tuple[str | None, Drawn | None]],
                      edit: bool = False) -> bool:
        """Mark the update processed and write `answer`'s message, in one transaction (`edit`: in place of
        the pressed message)."""
        def work(conn: Connection) -> int | None:
            if not mark(conn, row.id, self.clock()):
                return None
            msisdn, drawn = answer(conn)
            if drawn is None:
                return None
            return self.outbound.write(conn, row.chat_id, msisdn or "", drawn, f"tg-in:{row.id}", "reply",
                                       edit_message_id=row.message_id if edit else None, callback_id=row.callback_id)
        out = await asyncio.to_thread(write, self.db, work)
        await self.outbound.hand_off([out] if out else [])
        return True

    def _ask(self, text: T = ASK) -> Drawn:
        """Ask for the user's number with a `request_contact` button (they are nobody until then)."""
        lang = self.default_lang
        button = {"text": self.catalogs.render(lang, SHARE), "request_contact": True}
        markup = {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}
        return Drawn(self.catalogs.render(lang, T(text.msgid, operator=self.operator)), json.dumps(markup))

    def _say(self, lang: str, text: T) -> Drawn:
        return Drawn(self.catalogs.render(lang, text), "")

    def _switch_language(self, conn: Connection, inbox_id: int, msisdn: str) -> None:
        """/lang (the other of Chinese and English) or /lang en|zh, recorded on the subscriber as the account
        menu's choice is. The update is rewritten to name the language chosen, in the same transaction, so an
        update processed again after a crash sets the same language instead of switching back."""
        text = conn.execute(select(I.c.text).where(I.c.id == inbox_id)).scalar_one()
        current = conn.execute(select(S.c.language).where(S.c.msisdn == msisdn)).scalar() or self.default_lang
        named = LANG_NAMES.get(text.split(maxsplit=1)[1].strip().lower()) if len(text.split(maxsplit=1)) > 1 else None
        target = named or (LANGS[(LANGS.index(current) + 1) % 2] if current in LANGS else "en")
        conn.execute(update(S).where(S.c.msisdn == msisdn).values(language=target))
        conn.execute(update(I).where(I.c.id == inbox_id).values(text=f"/lang {target}"))

    def _lang(self, msisdn: str) -> str:
        profile = self.subscribers.profile(msisdn)
        return profile.lang if profile else self.default_lang

    def _read(self, inbox_id: int) -> Any:
        with self.db.connect() as conn:
            return conn.execute(select(I).where(I.c.id == inbox_id)).first()
