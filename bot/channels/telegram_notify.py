"""Where a linked subscriber's confirmations and reminders go: by SMS (the default, as for everyone) or in
their Telegram chat. They choose with /notify and its two buttons; the choice is the link's `notify` flag,
so it ends with the link, and a blocked bot (an inactive link) sends them back to SMS by itself."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from bot.channels.telegram_render import Drawn
from bot.engine.catalogs import Catalogs
from bot.engine.text import T
from bot.models import TelegramLink, TelegramLinkEvent

L, E = TelegramLink.__table__, TelegramLinkEvent.__table__
PREFIX = "n1"  # callback_data of the two buttons: "n1:telegram", "n1:sms" (never a menu's "p1:")
ASK = T("Where should booking codes, payment confirmations and reminders go? Now: {where}.")
HERE = T("Here in Telegram")
BY_SMS = T("By SMS")
CHOSE_HERE = T("Done: booking codes, payment confirmations and reminders will come to this chat. "
               "/notify changes it.")
CHOSE_SMS = T("Done: booking codes, payment confirmations and reminders will come by SMS. /notify changes it.")
CHOICES = {"telegram": True, "sms": False}


def chosen(data: str) -> bool | None:
    """The choice a press stands for (True: this chat), or None when it is not one of these buttons."""
    prefix, _, choice = data.partition(":")
    return CHOICES.get(choice) if prefix == PREFIX else None


def ask(catalogs: Catalogs, lang: str, in_chat: bool) -> Drawn:
    """The question with its two buttons, the current choice ticked."""
    def button(text: T, choice: str) -> dict:
        tick = "✓ " if CHOICES[choice] == in_chat else ""
        return {"text": tick + catalogs.render(lang, text), "callback_data": f"{PREFIX}:{choice}"}

    question = catalogs.render(lang, T(ASK.msgid, where=HERE if in_chat else BY_SMS))
    return Drawn(question, json.dumps({"inline_keyboard": [[button(HERE, "telegram"), button(BY_SMS, "sms")]]},
                                      ensure_ascii=False))


def choose(conn: Connection, user_id: int, msisdn: str, in_chat: bool, update_id: int, now: datetime,
           catalogs: Catalogs, lang: str) -> Drawn:
    """Record the choice on the link and in its history, in the caller's transaction; what to answer."""
    conn.execute(update(L).where(L.c.user_id == user_id).values(notify=in_chat))
    conn.execute(insert(E).values(user_id=user_id, msisdn=msisdn, event="notify-tg" if in_chat else "notify-sms",
                                  update_id=update_id, at=now))
    return Drawn(catalogs.render(lang, CHOSE_HERE if in_chat else CHOSE_SMS), "")
