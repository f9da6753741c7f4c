"""The Telegram webhook over real HTTP: the secret header checked, the update stored before the 200, once
per (bot, update_id); oversized or malformed bodies refused with a reason, nothing stored."""
from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import ClientSession
from sqlmodel import Session as DbSession, select

from bot.models import TelegramInbox
from integrations.telegram import SECRET_HEADER

TOKEN = "123456:TEST-token"
SECRET = "tg-secret-1"
USER = 5550001


def text_update(update_id: int, text: str = "hello there", user: int = USER) -> dict:
    who = {"id": user, "is_bot": False, "first_name": "Li"}
    return {"update_id": update_id, "message": {"message_id": 7, "date": 1700000000, "from": who,
                                                "chat": {"id": user, "type": "private"}, "text": text}}


@pytest.fixture
async def base(settings_with, serve, db):
    settings = settings_with(telegram_enabled="true", telegram_token=TOKEN, telegram_secret_token=SECRET)
    return await serve(settings) + "/telegram/webhook"


def rows(db) -> list[TelegramInbox]:
    with DbSession(db) as s:
        return s.exec(select(TelegramInbox)).all()


async def post(url: str, body: bytes, secret: str | None = SECRET) -> tuple[int, str]:
    headers = {"Content-Type": "application/json", **({SECRET_HEADER: secret} if secret is not None else {})}
    async with ClientSession() as http:
        async with http.post(url, data=body, headers=headers) as r:
            return r.status, await r.text()


async def test_an_update_is_stored_before_the_200(base, db):
    assert await post(base, json.dumps(text_update(1)).encode()) == (200, "OK")
    (row,) = rows(db)
    assert (row.bot, row.update_id, row.user_id, row.chat_id, row.kind, row.text) == (
        "123456", 1, USER, USER, "text", "hello there")


async def test_the_same_update_delivered_ten_times_at_once_is_stored_once(base, db):
    body = json.dumps(text_update(2)).encode()
    results = await asyncio.gather(*[post(base, body) for _ in range(10)])
    assert all(status == 200 for status, _ in results)
    assert sum(text == "OK" for _, text in results) == 1 and len(rows(db)) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_a_missing_or_wrong_secret_is_403_and_stores_nothing(base, db, secret):
    status, text = await post(base, json.dumps(text_update(3)).encode(), secret)
    assert status == 403 and "secret" in text and rows(db) == []


@pytest.mark.parametrize("body,reason", [
    (b"{not json", "malformed JSON"),
    (b"\xff\xfe", "malformed JSON"),
    (b"[1, 2]", "integer update_id"),
    (b'{"update_id": "7"}', "integer update_id"),
    (b'{"message": {}}', "integer update_id"),
    (b'{"update_id": 5, "message": {"text": "x"}}', "not a Telegram update"),
])
async def test_a_malformed_body_gets_400_with_a_reason(base, db, body, reason):
    status, text = await post(base, body)
    assert status == 400 and reason in text and rows(db) == []


async def test_an_oversized_body_gets_413(base, db):
    status, text = await post(base, json.dumps(text_update(4, "x" * 20_000)).encode())
    assert status == 413 and "exceeded" in text and rows(db) == []


async def test_commands_contacts_and_presses_are_told_apart_at_the_door(base, db):
    who = {"id": USER, "is_bot": False, "first_name": "Li"}
    message = {"message_id": 9, "date": 1700000000, "from": who, "chat": {"id": USER, "type": "private"}}
    await post(base, json.dumps(text_update(10, "/start@shortcode_bot")).encode())
    await post(base, json.dumps({"update_id": 11, "message": {**message, "contact": {
        "phone_number": "8613800000001", "first_name": "Li", "user_id": USER}}}).encode())
    await post(base, json.dumps({"update_id": 12, "callback_query": {
        "id": "q1", "from": who, "chat_instance": "c", "data": "p1:3:2",
        "message": {**message, "from": {"id": 1, "is_bot": True, "first_name": "Bot"}}}}).encode())
    await post(base, json.dumps({"update_id": 13, "edited_message": message}).encode())
    got = {r.update_id: r for r in rows(db)}
    assert [got[i].kind for i in (10, 11, 12, 13)] == ["command", "contact", "press", "other"]
    assert (got[11].contact_phone, got[11].contact_user_id) == ("8613800000001", USER)
    assert (got[12].data, got[12].callback_id, got[12].message_id, got[12].chat_id) == ("p1:3:2", "q1", 9, USER)


async def test_the_route_is_not_mounted_while_telegram_is_disabled(settings_with, serve, db):
    base = await serve(settings_with(telegram_token=TOKEN, telegram_secret_token=SECRET))
    assert (await post(base + "/telegram/webhook", json.dumps(text_update(1)).encode()))[0] == 404
