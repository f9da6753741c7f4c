"""Where confirmations go for a subscriber linked on Telegram (/notify), and the chat's own behaviour around
it: a language switch that survives being processed twice, the chat's words for STOP, and a user who
unblocked the bot being reached again. Over the real webhook, a real Redis and the database."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, insert, select, update

from bot.channels.telegram_outbound import TelegramOutbound
from bot.engine.engine import SEQ
from bot.engine.text import T
from bot.models import TelegramInbox, TelegramLink
from bot.outbound import Confirmations, Outbound
from bot.subscribers import Subscribers
from jobs.tables import Outbox, TelegramOutbox
from tests.bot.channels.test_telegram_conversations import (EN, SECRET, TOKEN, USER, deliver, events, inbox_id,
                                                            press, say, share)

L, O, TO, I = TelegramLink.__table__, Outbox.__table__, TelegramOutbox.__table__, TelegramInbox.__table__
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
async def app(settings_with, serve, db):
    return await serve(settings_with(telegram_enabled="true", telegram_token=TOKEN, telegram_secret_token=SECRET,
                                     jobs_rescan_every="0.3"))


def notify_flag(db) -> bool:
    with db.connect() as conn:
        return conn.execute(select(L.c.notify).where(L.c.user_id == USER)).scalar_one()


async def test_notify_asks_with_two_buttons_and_a_press_records_the_choice_in_place(app, db):
    await share(app, db, EN)
    asked = await say(app, db, "/notify")
    assert "Now: By SMS" in asked.text
    buttons = json.loads(asked.markup)["inline_keyboard"][0]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [("Here in Telegram", "n1:telegram"),
                                                                  ("✓ By SMS", "n1:sms")]
    chose = await press(app, db, "n1:telegram", message_id=77)
    assert "come to this chat" in chose.text and chose.edit_message_id == 77 and chose.callback_id
    assert notify_flag(db) is True and events(db)[-1] == (USER, EN, "notify-tg")
    assert "Now: Here in Telegram" in (await say(app, db, "/notify")).text
    await press(app, db, "n1:sms")
    assert notify_flag(db) is False and events(db)[-1] == (USER, EN, "notify-sms")


async def test_a_choice_pressed_by_a_stranger_asks_for_their_number(app, db):
    assert "分享您的手机号" in (await press(app, db, "n1:telegram")).text


@dataclass
class Session:
    """What a confirmation's cause is made of: the conversation and its place in it."""

    started: float = 1.0
    lang: str = "en"
    location: tuple = ("golf", "booked")
    values: dict = field(default_factory=lambda: {SEQ: 1})


def link(db, *, notify: bool, active: bool = True) -> None:
    with db.begin() as conn:
        conn.execute(delete(L))
        conn.execute(insert(L).values(user_id=USER, msisdn=EN, chat_id=USER, active=active, notify=notify,
                                      linked_at=NOW, update_id=1))


def confirmations(db) -> tuple[list, list]:
    """(SMS texts, Telegram (chat, text)) of kind confirmation."""
    with db.connect() as conn:
        sms = list(conn.execute(select(O.c.text).where(O.c.kind == "confirmation")).scalars())
        chat = [(r.chat_id, r.text) for r in conn.execute(select(TO).where(TO.c.kind == "confirmation"))]
    return sms, chat


@pytest.mark.parametrize("notify, active, where", [(True, True, "telegram"), (False, True, "sms"),
                                                   (True, False, "sms")])
async def test_a_confirmation_goes_to_the_chat_only_when_chosen_and_the_link_is_active(db, core, notify, active,
                                                                                     where):
    link(db, notify=notify, active=active)
    sender = Confirmations(Outbound(db), core.catalogs, TelegramOutbound())
    await sender.send(EN, T("Booked {course} {day} {time}. Code {code}. Cancel over {hours} h ahead for a full "
                            "refund.", course="Mission Hills", day="Dec 3", time="07:30", code="G123", hours=24),
                      Session())
    sms, chat = confirmations(db)
    if where == "telegram":
        assert sms == [] and chat == [(USER, chat[0][1])] and "Code G123" in chat[0][1]
    else:
        assert chat == [] and len(sms) == 1 and "Code G123" in sms[0]


async def test_a_confirmation_retried_after_the_choice_changed_is_still_sent_once(db, core):
    """The same operation confirmed again (a retried hop) after the subscriber switched to Telegram: the SMS
    already written stands, no second message in the chat."""
    sender = Confirmations(Outbound(db), core.catalogs, TelegramOutbound())
    link(db, notify=False)
    await sender.send(EN, T("Cancelled {code}.", code="G9"), Session())
    link(db, notify=True)
    await sender.send(EN, T("Cancelled {code}.", code="G9"), Session())
    sms, chat = confirmations(db)
    assert len(sms) == 1 and chat == []
    await sender.send(EN, T("Cancelled {code}.", code="G10"), Session(started=2.0))  # another operation
    assert len(confirmations(db)[1]) == 1


async def test_lang_processed_again_after_a_crash_keeps_the_language_it_chose(app, db):
    """A process that died after /lang recorded the language but before answering leaves the update to the
    re-scan; processing it again must not switch the language back."""
    await share(app, db, EN)
    update_id = await deliver(app, {"message": {"message_id": 5, "date": 1700000000, "chat": {"id": USER, "type":
                                                "private"}, "from": {"id": USER, "is_bot": False, "first_name": "Li"},
                                                "text": "/lang"}})
    row_id = inbox_id(db, update_id)
    for _ in range(250):  # answered (in Chinese)
        with db.connect() as conn:
            if conn.execute(select(TO.c.id).where(TO.c.cause == f"tg-in:{row_id}")).first():
                break
        await asyncio.sleep(0.02)
    assert Subscribers(db).profile(EN).lang == "zh_Hans"
    with db.begin() as conn:  # as the crash left it: the language recorded, the update not answered
        conn.execute(delete(TO).where(TO.c.cause == f"tg-in:{row_id}"))
        conn.execute(update(I).where(I.c.id == row_id).values(processed_at=None))
    for _ in range(250):
        with db.connect() as conn:
            again = conn.execute(select(TO.c.text).where(TO.c.cause == f"tg-in:{row_id}")).scalar()
        if again:
            break
        await asyncio.sleep(0.02)
    assert again and any("\u4e00" <= c <= "\u9fff" for c in again)
    assert Subscribers(db).profile(EN).lang == "zh_Hans"


async def test_lang_with_a_language_sets_that_language(app, db):
    await share(app, db, EN)
    await say(app, db, "/lang en")
    assert Subscribers(db).profile(EN).lang == "en"
    await say(app, db, "/lang 中文")
    assert Subscribers(db).profile(EN).lang == "zh_Hans"


async def test_stop_and_start_in_the_chat_name_the_chats_commands(app, db):
    await share(app, db, EN)
    stopped = (await say(app, db, "/stop")).text
    assert "Send /start" in stopped and "Text START" not in stopped
    assert "Send /stop" in (await say(app, db, "/start")).text
    assert "/notify" in (await say(app, db, "HELP")).text


async def test_a_user_who_unblocked_the_bot_is_reached_again(app, db):
    """The sender made the link inactive on a 403 (blocked); the user writing again proves they unblocked it."""
    await share(app, db, EN)
    with db.begin() as conn:
        conn.execute(update(L).values(active=False))
    assert (await say(app, db, "/menu")).text
    with db.connect() as conn:
        assert conn.execute(select(L.c.active)).scalar_one() is True
    assert events(db)[-1] == (USER, EN, "unblocked")
