"""Telegram chats over the real webhook, a real Redis and the database: linking by one's own contact,
commands, presses applied at their hop only, and one answer per update."""
from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from bot.models import TelegramInbox, TelegramLink, TelegramLinkEvent
from integrations.telegram import SECRET_HEADER
from jobs.tables import OptOut, TelegramOutbox

TOKEN, SECRET = "123456:TEST-token", "tg-secret-1"
EN, ZH = "+8613800000011", "+8613800000001"  # silver, English; gold, Chinese
NOBODY = "+8613912345678"  # a valid number that is no subscriber
USER, OTHER = 5550001, 5550002
_updates = itertools.count(1)


@pytest.fixture
async def app(settings_with, serve, db):
    return await serve(settings_with(telegram_enabled="true", telegram_token=TOKEN, telegram_secret_token=SECRET))


def _who(user: int) -> dict:
    return {"id": user, "is_bot": False, "first_name": "Li"}


def _message(user: int, **content) -> dict:
    return {"message_id": 100, "date": 1700000000, "from": _who(user), "chat": {"id": user, "type": "private"},
            **content}


async def deliver(base: str, update: dict) -> int:
    """Post an update to the webhook; its update_id."""
    update_id = next(_updates)
    async with ClientSession() as http:
        async with http.post(base + "/telegram/webhook", json={"update_id": update_id, **update},
                             headers={SECRET_HEADER: SECRET}) as r:
            assert r.status == 200, await r.text()
    return update_id


def inbox_id(db, update_id: int) -> int:
    with db.connect() as conn:
        return conn.execute(select(TelegramInbox.__table__.c.id).where(
            TelegramInbox.__table__.c.update_id == update_id)).scalar_one()


async def answer(db, update_id: int, cause: str = "tg-in", timeout: float = 5):
    """The outbox row answering the update."""
    for _ in range(int(timeout / 0.02)):
        with db.connect() as conn:
            found = conn.execute(select(TelegramOutbox.__table__).where(
                TelegramOutbox.__table__.c.cause == f"{cause}:{inbox_id(db, update_id)}")).first()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no answer to update {update_id}")


async def say(base, db, text: str, user: int = USER):
    return await answer(db, await deliver(base, {"message": _message(user, text=text)}))


async def share(base, db, phone: str, user: int = USER, owner: int | None = None):
    contact = {"phone_number": phone.lstrip("+"), "first_name": "Li", "user_id": owner or user}
    return await answer(db, await deliver(base, {"message": _message(user, contact=contact)}))


async def press(base, db, data: str, user: int = USER, message_id: int = 100):
    query = {"id": f"q{next(_updates)}", "from": _who(user), "chat_instance": "c", "data": data,
             "message": {**_message(user, text="menu"), "message_id": message_id, "from": _who(1)}}
    return await answer(db, await deliver(base, {"callback_query": query}))


def links(db) -> dict[int, str]:
    with db.connect() as conn:
        return {r.user_id: r.msisdn for r in conn.execute(select(TelegramLink.__table__))}


def events(db) -> list[tuple[int, str, str]]:
    with db.connect() as conn:
        return [(r.user_id, r.msisdn, r.event) for r in conn.execute(
            select(TelegramLinkEvent.__table__).order_by(TelegramLinkEvent.__table__.c.id))]


async def test_a_stranger_is_asked_to_share_their_number_with_a_contact_button(app, db):
    """Anything from an unlinked user (text or /start) gets the request_contact keyboard, in [service] language."""
    for text in ("hello", "/start"):
        row = await say(app, db, text)
        assert "分享您的手机号" in row.text
        assert json.loads(row.markup)["keyboard"][0][0]["request_contact"] is True


async def test_a_contact_that_is_not_the_senders_is_refused_and_links_nothing(app, db):
    row = await share(app, db, EN, owner=OTHER)
    assert "本人的号码" in row.text and links(db) == {} and events(db) == []


async def test_a_number_that_is_no_subscriber_is_politely_refused(app, db):
    row = await share(app, db, NOBODY)
    assert "不是Shortcode Mobile用户" in row.text and links(db) == {}


async def test_ones_own_subscriber_number_links_and_shows_the_main_menu(app, db):
    update_id = await deliver(app, {"message": _message(USER, contact={
        "phone_number": EN.lstrip("+"), "first_name": "Li", "user_id": USER})})
    assert "now linked" in (await answer(db, update_id, "tg-link")).text
    menu = await answer(db, update_id)  # the main menu, in the subscriber's English, its options as buttons
    assert menu.text == "Shortcode services" and '"text": "1. My account"' in menu.markup
    assert links(db) == {USER: EN} and events(db) == [(USER, EN, "linked")]


async def test_a_relink_by_another_user_moves_the_link_and_records_it(app, db):
    await share(app, db, EN)
    await share(app, db, EN, user=OTHER)
    assert links(db) == {OTHER: EN}
    assert events(db) == [(USER, EN, "linked"), (USER, EN, "moved"), (OTHER, EN, "linked")]
    assert "分享您的手机号" in (await say(app, db, "hello")).text  # the first user is nobody again


async def test_unlink_removes_the_link(app, db):
    await share(app, db, EN)
    assert "no longer linked" in (await say(app, db, "/unlink")).text
    assert links(db) == {} and events(db)[-1] == (USER, EN, "unlinked")
    assert "分享您的手机号" in (await say(app, db, "1")).text


async def test_a_press_applies_its_input_and_edits_the_pressed_message(app, db):
    update_id = await deliver(app, {"message": _message(USER, contact={
        "phone_number": EN.lstrip("+"), "first_name": "Li", "user_id": USER})})
    menu = await answer(db, update_id)
    row = await press(app, db, f"p1:{inbox_id(db, update_id)}:1", message_id=41)
    assert row.text != menu.text and row.edit_message_id == 41 and row.callback_id and row.notice == ""


async def test_a_press_on_an_expired_menu_is_answered_and_never_applied(app, db):
    update_id = await deliver(app, {"message": _message(USER, contact={
        "phone_number": EN.lstrip("+"), "first_name": "Li", "user_id": USER})})
    await answer(db, update_id)  # the main menu, drawn at the contact's hop
    first_hop = inbox_id(db, update_id)
    moved = await press(app, db, f"p1:{first_hop}:1")  # the menu drawn at the link: applied
    stale = await press(app, db, f"p1:{first_hop}:2")  # the same old menu again: expired
    assert (stale.notice, stale.text, stale.edit_message_id) == ("This menu has expired.", "", None), (stale, moved)
    assert '"text": "1. ' in moved.markup
    typed = await say(app, db, "0")  # the session is where the first press left it: 0 goes back from there
    assert typed.text != moved.text


async def test_stop_opts_out_on_telegram_and_start_opts_back_in(app, db):
    await share(app, db, EN)
    assert "no more reminders" in (await say(app, db, "/stop")).text
    with db.connect() as conn:
        opt = conn.execute(select(OptOut.__table__).where(OptOut.__table__.c.msisdn == EN)).one()
    assert opt.opted_out and opt.channel == "telegram"
    assert "again" in (await say(app, db, "/start")).text
    with db.connect() as conn:
        assert not conn.execute(select(OptOut.__table__.c.opted_out).where(OptOut.__table__.c.msisdn == EN)).scalar()


async def test_lang_switches_between_chinese_and_english(app, db):
    await share(app, db, EN)
    """/lang records the other language and shows the main menu in it; again, back."""
    from bot.subscribers import Subscribers

    chinese = await say(app, db, "/lang")
    assert any("\u4e00" <= c <= "\u9fff" for c in chinese.text) and '"text": "1. ' in chinese.markup
    assert Subscribers(db, "Asia/Shanghai").profile(EN).lang == "zh_Hans"
    english = (await say(app, db, "/lang")).text
    assert not any("\u4e00" <= c <= "\u9fff" for c in english)
    assert Subscribers(db, "Asia/Shanghai").profile(EN).lang == "en"
