"""Telegram end to end with real processes over loopback: the simulated Bot API, `shortcode serve` with the
webhook registered by `shortcode telegram set-webhook`, and an RQ worker sending the answers on a real
Redis. A subscriber links by their own contact and books a tee time by pressing buttons; their USSD
session carries on untouched."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession

from tests.processes import (TELEGRAM_TOKEN, Stack, bring_up, bring_up_telegram, eventually, telegram_api, telegram_env,
                             wait_http)

EN = "+8613800000011"  # silver, English: golf is open to them
USER = 7000011


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url, **telegram_env())
    await bring_up_telegram(stack, 50)
    yield stack
    stack.stop()


def seen(chat: dict) -> tuple[int, int]:
    """How far the bot has got in a chat: its messages, and their edits."""
    mine = [m for m in chat["messages"] if m["sender"] == "bot"]
    return len(mine), sum(len(m["edits"]) for m in mine)


class TelegramUser:
    """A Telegram user on the simulator's control API: each action waits for the bot's answer (a new
    message or an edit) and returns the latest bot message."""

    def __init__(self, stack: Stack, user_id: int, phone: str) -> None:
        self.api, self.user_id, self.phone = telegram_api(stack), user_id, phone

    async def chat(self) -> dict:
        async with ClientSession() as http:
            async with http.get(f"{self.api}/control/chats/{self.user_id}") as r:
                return await r.json() if r.status == 200 else {"messages": []}

    async def act(self, action: str, until=lambda latest: True, **body) -> dict:
        """Act, then wait until the bot answered and its latest message is `until` one."""
        before = seen(await self.chat())
        async with ClientSession() as http:
            async with http.post(f"{self.api}/control/{action}",
                                 json={"user_id": self.user_id, "phone_number": self.phone, **body}) as r:
                assert r.status == 200, await r.text()

        async def answered():
            chat = await self.chat()
            latest = [m for m in chat["messages"] if m["sender"] == "bot"][-1:]
            return seen(chat) != before and until(latest[0]) and latest[0]

        return await eventually(answered, timeout=30)

    async def text(self, text: str) -> dict:
        return await self.act("text", text=text)

    async def press(self, message: dict, word: str) -> dict:
        """Press the first button of `message` whose label holds `word` ("Golf" presses "3. Golf")."""
        labels = [b["text"] for row in (message["reply_markup"] or {}).get("inline_keyboard", []) for b in row]
        label = next((t for t in labels if word.lower() in t.lower()), f"none of {labels} holds {word}")
        return await self.act("press", label=label, message_id=message["message_id"])


async def ussd(stack: Stack, session: str, msisdn: str, inputs: str) -> str:
    form = {"sessionId": session, "serviceCode": "*126#", "phoneNumber": msisdn, "text": inputs}
    async with ClientSession() as http:
        async with http.post(stack.web + "/ussd/africastalking?key=test-secret", data=urlencode(form),
                             headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
            assert r.status == 200
            return await r.text()


async def test_link_by_contact_and_book_golf_by_buttons_and_the_ussd_session_carries_on(stack):
    assert "Golf" in await ussd(stack, "e2e-ussd-1", EN, "")
    assert "Book a tee time" in await ussd(stack, "e2e-ussd-1", EN, "3")

    user = TelegramUser(stack, USER, EN)
    asked = await user.text("/start")
    assert asked["reply_markup"]["keyboard"][0][0]["request_contact"]
    menu = await user.act("contact", until=lambda m: "Golf" in str(m["reply_markup"]))
    said = [m["text"] for m in (await user.chat())["messages"] if m["sender"] == "bot"]
    assert said[1].startswith("Your number is now linked to this chat.") and said[2:] == [menu["text"]]
    golf = await user.press(menu, "Golf")
    courses = await user.press(golf, "Book a tee time")
    assert "Choose a course" in courses["text"]
    dates = await user.press(courses, _first(courses))
    assert "Choose a date" in dates["text"]
    times = await user.press(dates, _option(dates, 2))  # tomorrow: today's tee times are over after 16:00
    assert "Tee times" in times["text"]
    players = await user.press(times, _first(times))
    assert "How many players?" in players["text"]
    pay = await user.text("2")
    assert "Pay by" in pay["text"]
    confirm = await user.press(pay, "Phone bill")
    booked = await user.press(confirm, "Confirm")
    code = re.search(r"Code (G\w+)", booked["text"]).group(1)

    transcript = await user.chat()
    assert sum(code in m["text"] for m in transcript["messages"]) == 1
    assert all(not a["show_alert"] and a["text"] in (None, "") for a in transcript["answers"])
    assert "Choose a course" in await ussd(stack, "e2e-ussd-1", EN, "3*1")  # where it was left


async def test_set_webhook_registers_the_webhook_and_the_commands_in_chinese_and_english(stack):
    """`shortcode telegram set-webhook` (run by the stack) leaves the webhook and the command menus set."""
    async with ClientSession() as http:
        async def call(method: str, **params) -> dict:
            async with http.post(f"{telegram_api(stack)}/bot{TELEGRAM_TOKEN}/{method}", json=params) as r:
                return (await r.json())["result"]

        assert (await call("getWebhookInfo"))["url"] == stack.web + "/telegram/webhook"
        zh, en = await call("getMyCommands", language_code="zh"), await call("getMyCommands", language_code="en")
    assert [c["command"] for c in zh] == [c["command"] for c in en] == ["start", "menu", "lang", "help", "notify",
                                                                          "stop", "unlink"]
    assert zh[1]["description"] == "主菜单" and en[1]["description"] == "The main menu"


async def test_a_ussd_booking_code_comes_to_the_chat_once_the_subscriber_chose_it_and_by_sms_after(stack):
    """/notify and its button: the booking code of a USSD booking is sent to the Telegram chat, not by SMS;
    choosing SMS again sends the next one by SMS."""
    user = TelegramUser(stack, USER, EN)
    await user.text("/start")
    await user.act("contact", until=lambda m: "Golf" in str(m["reply_markup"]))
    asked = await user.text("/notify")
    assert "Now: By SMS" in asked["text"]
    chose = await user.press(asked, "Here in Telegram")
    assert chose["text"].startswith("Done: booking codes") and chose["message_id"] == asked["message_id"]

    booked = await ussd_walk(stack, "e2e-notify-1", EN, ["3", "1", "1", "3", "1", "1", "1", "1"])
    code = re.search(r"Code (G\w+)", booked).group(1)

    async def in_chat():
        return any(code in m["text"] for m in (await user.chat())["messages"] if m["sender"] == "bot")
    assert await eventually(in_chat, timeout=20)
    assert await sms_confirmations(stack, EN) == []

    back = await user.press(await user.text("/notify"), "By SMS")
    assert "by SMS" in back["text"]
    again = await ussd_walk(stack, "e2e-notify-2", EN, ["2", "3", "1", "1", "3", "1", "1", "1", "1"])  # 2: start over
    second = re.search(r"Code (G\w+)", again).group(1)
    assert [second in text for text in await sms_confirmations(stack, EN)] == [True]
    assert not any(second in m["text"] for m in (await user.chat())["messages"])


async def ussd_walk(stack: Stack, session: str, msisdn: str, keys: list[str]) -> str:
    """Dial, then send each key as its own hop (the gateway's text grows by one input a hop); the last screen."""
    screen = await ussd(stack, session, msisdn, "")
    for i in range(len(keys)):
        screen = await ussd(stack, session, msisdn, "*".join(keys[:i + 1]))
    return screen


async def sms_confirmations(stack: Stack, msisdn: str) -> list[str]:
    """The confirmations the SMS outbox holds for a subscriber (sent or not: no gateway here)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text(
                "SELECT text FROM outbox WHERE msisdn = :m AND kind = 'confirmation'"), {"m": msisdn}).scalars())
    finally:
        engine.dispose()


def _first(message: dict) -> str:
    """The first option of a menu (its label without the number)."""
    return _option(message, 1)


def _option(message: dict, number: int) -> str:
    """Option `number` of a menu (its label without the number)."""
    labels = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    return next(t for t in labels if t.startswith(f"{number}. ")).split(". ", 1)[1]


async def test_polling_answers_are_handed_to_the_worker_at_once(tmp_path, redis_url):
    """`shortcode telegram poll` queues its answers for the worker (not only for a re-scan, which is
    pushed out of reach here)."""
    stack = Stack(tmp_path, redis_url, SHORTCODE_JOBS_RESCAN_EVERY="3600", **telegram_env())
    try:
        stack.start("telegram-api", "telegram-api")
        await wait_http(telegram_api(stack) + "/control/stats")
        await bring_up(stack, 50)
        stack.start("poll", "telegram", "poll")
        user = TelegramUser(stack, USER, EN)
        assert (await user.text("/start"))["reply_markup"]["keyboard"][0][0]["request_contact"]
        menu = await user.act("contact", until=lambda m: "inline_keyboard" in (m["reply_markup"] or {}))
        assert (await user.press(menu, "Golf"))["text"] == "Golf"
        assert "telegram_hand_off_failed" not in stack.log("poll")
    finally:
        stack.stop()
