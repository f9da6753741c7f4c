"""The simulated Telegram Bot API driven by the real python-telegram-bot client over loopback: PTB accepts
its answers and maps its errors to its own exceptions; updates reach a webhook (secret header, retries,
duplicates) or getUpdates; the control API acts as users and reads chats."""
from __future__ import annotations

import asyncio

import pytest
import structlog
import telegram
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from telegram import (BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup,
                      ReplyKeyboardRemove)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from integrations.telegram import SECRET_HEADER
from integrations.telegram.simulator import Simulator, make_telegram_app

# PTB 22 warns that RetryAfter.retry_after will become a timedelta; `seconds` reads either.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:TEST-token"
USER, OTHER = 5550001, 5550002
PHONE = "+8613800000001"


class Tg:
    """One simulator on a loopback port, a plain HTTP client for its control API, and PTB bots for it."""

    def __init__(self, sim: Simulator, base: str, http: ClientSession) -> None:
        self.sim, self.base, self.http = sim, base, http

    def bot(self, token: str = TOKEN, read_timeout: float = 5.0) -> telegram.Bot:
        return telegram.Bot(token, base_url=f"{self.base}/bot", request=HTTPXRequest(read_timeout=read_timeout))

    async def act(self, action: str, **body) -> tuple[int, dict]:
        async with self.http.post(f"{self.base}/control/{action}", json=body) as r:
            return r.status, await r.json()

    async def update(self, action: str, **body) -> dict:
        status, answer = await self.act(action, **body)
        assert status == 200, answer
        return answer["update"]

    async def get(self, path: str) -> dict:
        async with self.http.get(f"{self.base}/control/{path}") as r:
            return await r.json()

    async def faults(self, **changes) -> dict:
        async with self.http.post(f"{self.base}/control/faults", json=changes) as r:
            assert r.status == 200
            return await r.json()


@pytest.fixture
async def tg():
    sim = Simulator(TOKEN, retry_base_s=0.02)
    sim.limits.set({"global_per_s": 0, "chat_per_s": 0})  # the send limits have their own test
    server = TestServer(make_telegram_app(sim), host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as http:
        yield Tg(sim, f"http://127.0.0.1:{server.port}", http)
    await server.close()


@pytest.fixture
async def receiver():
    """Our side of the webhook: records each delivery's secret header and body; answers the statuses queued
    in `answers` first, then 200."""
    got: list[tuple[str | None, dict]] = []
    answers: list[int] = []

    async def record(request: web.Request) -> web.Response:
        got.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/telegram/webhook", record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}/telegram/webhook", got, answers
    await server.close()


async def until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def seconds(retry_after) -> float:
    """PTB 22 gives retry_after as int seconds, and will give a timedelta."""
    return retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else retry_after


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Book", callback_data="book:1"),
                                  InlineKeyboardButton("Cancel", callback_data="cancel")]])


async def test_ptb_reads_what_a_user_typed_and_sends_and_edits_in_place(tg):
    """getUpdates hands PTB a Telegram-shaped message; sendMessage and editMessageText answer Messages
    with increasing message_ids, and the transcript keeps the edit history with each keyboard."""
    await tg.update("text", user_id=USER, text="hello", first_name="Li", language_code="zh-hans")
    async with tg.bot() as bot:
        assert (await bot.get_me()).id == 123456
        (update,) = await bot.get_updates(timeout=1)
        assert update.message.text == "hello" and update.effective_user.language_code == "zh-hans"
        sent = await bot.send_message(USER, "Choose", reply_markup=KEYBOARD)
        assert sent.message_id == update.message.message_id + 1 and sent.reply_markup == KEYBOARD
        edited = await bot.edit_message_text("Booked", chat_id=USER, message_id=sent.message_id)
        assert edited.text == "Booked" and edited.reply_markup is None and edited.edit_date
    transcript = await tg.get(f"chats/{USER}")
    bot_message = transcript["messages"][1]
    assert bot_message["text"] == "Booked" and bot_message["reply_markup"] is None
    assert bot_message["edits"][0]["text"] == "Choose"
    assert bot_message["edits"][0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "book:1"


async def test_telegram_errors_become_ptb_exceptions(tg):
    """Wrong token, unknown chat, a blocked user, an unchanged edit, an overlong text or button data."""
    await tg.update("text", user_id=USER, text="hi")
    async with tg.bot() as bot:
        sent = await bot.send_message(USER, "Same", reply_markup=KEYBOARD)
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(999, "x")
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text("Same", chat_id=USER, message_id=sent.message_id, reply_markup=KEYBOARD)
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(USER, "x" * 4097)
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(USER, "x", reply_markup=too_long)
        await bot.send_message(USER, "x" * 4096)  # the limit itself is allowed
        await tg.update("block", user_id=USER)
        with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
            await bot.send_message(USER, "x")
    with pytest.raises(InvalidToken, match="rejected"):
        async with tg.bot("123456:wrong") as bot:
            await bot.get_me()
    assert tg.sim.errors["sendMessage 400"] == 3 and tg.sim.errors["editMessageText 400"] == 1
    assert tg.sim.errors["sendMessage 403"] == 1


async def test_errors_are_telegrams_json_for_json_and_form_bodies(tg):
    """PTB rewords descriptions; the wire carries Telegram's own, whichever body shape was sent."""
    url = f"{tg.base}/bot{TOKEN}/sendMessage"
    async with tg.http.post(url, json={"chat_id": 999, "text": "x"}) as r:
        assert r.status == 400
        assert await r.json() == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    await tg.faults(flood={"calls": 1, "retry_after": 4})
    async with tg.http.post(url, data={"chat_id": "999", "text": "x"}) as r:
        assert r.status == 429 and (await r.json())["parameters"] == {"retry_after": 4}
    async with tg.http.get(f"{tg.base}/botnope/getMe") as r:
        assert r.status == 401 and (await r.json())["description"] == "Unauthorized"


async def test_blocking_and_unblocking_tell_the_bot(tg):
    """Telegram sends my_chat_member updates; a blocked user cannot type until they unblock."""
    await tg.update("text", user_id=USER, text="hi")
    blocked = await tg.update("block", user_id=USER)
    assert blocked["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    status, _ = await tg.act("text", user_id=USER, text="hello?")
    assert status == 409
    await tg.update("unblock", user_id=USER)
    async with tg.bot() as bot:
        updates = await bot.get_updates()
        assert [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member] == ["kicked", "member"]
        await bot.send_message(USER, "welcome back")


async def test_flood_answers_429_with_retry_after(tg):
    await tg.update("text", user_id=USER, text="hi")
    await tg.faults(flood={"calls": 2, "retry_after": 7}, methods=["sendMessage"])
    async with tg.bot() as bot:
        for _ in range(2):
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(USER, "x")
            assert seconds(caught.value.retry_after) == 7
        await bot.send_message(USER, "now it goes")
    assert len((await tg.get(f"chats/{USER}"))["messages"]) == 2


async def test_send_limits_answer_429_per_chat_and_per_bot(tg):
    """Over a chat's burst, or the bot's per-second rate, Telegram answers 429 and sends nothing."""
    now = [1000.0]
    tg.sim.monotonic = lambda: now[0]
    await tg.faults(chat_per_s=1, chat_burst=2, global_per_s=3)
    for user in (USER, OTHER):
        await tg.update("text", user_id=user, text="hi")
    async with tg.bot() as bot:
        await bot.send_message(USER, "1")
        await bot.send_message(USER, "2")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "3")
        assert seconds(caught.value.retry_after) == 1
        await bot.send_message(OTHER, "1")  # another chat has its own burst, but the bot's 3 a second are used
        with pytest.raises(RetryAfter):
            await bot.send_message(OTHER, "2")
        now[0] += 1.0
        await bot.send_message(USER, "3")
    assert [m["text"] for m in (await tg.get(f"chats/{USER}"))["messages"][1:]] == ["1", "2", "3"]


async def test_server_errors_and_held_requests(tg):
    """A 5xx does nothing; a held request times out in PTB although Telegram did send the message."""
    await tg.update("text", user_id=USER, text="hi")
    async with tg.bot(read_timeout=0.3) as bot:
        await tg.faults(error_rate=1.0)
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(USER, "lost")
        await tg.faults(error_rate=0.0, timeout_rate=1.0, timeout_s=1.0, methods=["sendMessage"])
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "sent, unheard")
    assert [m["text"] for m in (await tg.get(f"chats/{USER}"))["messages"]] == ["hi", "sent, unheard"]


async def test_faults_are_checked_and_changed_only_where_named(tg):
    """A tester's typo is refused with the reason; a partial `flood` keeps its other fields."""
    async with tg.http.post(f"{tg.base}/control/faults", json={"latncy_ms": 5}) as r:
        assert r.status == 400 and "latncy_ms" in (await r.json())["error"]
    async with tg.http.post(f"{tg.base}/control/faults", json={"latency_ms": "soon"}) as r:
        assert r.status == 400
    assert (await tg.faults(flood={"retry_after": 9}))["flood"] == {"calls": 0, "share": 0.0, "retry_after": 9}
    changed = await tg.faults(flood={"calls": 1}, error_status="503")
    assert changed["flood"]["retry_after"] == 9 and changed["error_status"] == 503 and changed["latency_ms"] == 0


async def test_a_contact_shared_is_the_users_own_or_someone_elses(tg):
    """Own contact: the sender's user_id, the number without "+" as Telegram's apps send it; someone
    else's: a different user_id (or none)."""
    own = (await tg.update("contact", user_id=USER, phone_number=PHONE))["message"]["contact"]
    other = (await tg.update("contact", user_id=USER, contact={"phone_number": "+8613800000002",
                                                                 "first_name": "Wang", "user_id": OTHER}))
    async with tg.bot() as bot:
        parsed = telegram.Update.de_json(other, bot)
    assert own == {"phone_number": PHONE[1:], "first_name": "Tester", "user_id": USER}
    assert parsed.message.contact.user_id == OTHER != parsed.effective_user.id


async def test_pressing_a_button_on_an_old_message_and_answering_once(tg):
    """The callback_query carries the message pressed on, as it is now; an answer is recorded once."""
    await tg.update("text", user_id=USER, text="hi")
    async with tg.bot() as bot:
        first = await bot.send_message(USER, "Old", reply_markup=KEYBOARD)
        await bot.send_message(USER, "New", reply_markup=KEYBOARD)
        pressed = await tg.update("press", user_id=USER, label="Book", message_id=first.message_id)
        query = telegram.Update.de_json(pressed, bot).callback_query
        assert query.data == "book:1" and query.message.message_id == first.message_id
        assert query.message.text == "Old" and query.from_user.id == USER
        latest = await tg.update("press", user_id=USER, data="cancel")
        assert latest["callback_query"]["message"]["text"] == "New"
        assert await bot.answer_callback_query(query.id, text="Booked!")
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(query.id, text="again")
    status, _ = await tg.act("press", user_id=USER, label="Nowhere")
    assert status == 404
    answers = (await tg.get(f"chats/{USER}"))["answers"]
    assert answers == [{"callback_query_id": query.id, "message_id": first.message_id, "data": "book:1",
                        "text": "Booked!", "show_alert": False}]


async def test_reply_keyboard_shares_the_contact_and_can_be_removed(tg):
    await tg.update("text", user_id=USER, text="hi", phone_number=PHONE)
    share = ReplyKeyboardMarkup([[KeyboardButton("Share my number", request_contact=True)]], one_time_keyboard=True)
    async with tg.bot() as bot:
        await bot.send_message(USER, "Who are you?", reply_markup=share)
        pressed = await tg.update("press", user_id=USER, label="Share my number")
        assert telegram.Update.de_json(pressed, bot).message.contact.user_id == USER
        assert (await tg.get(f"chats/{USER}"))["keyboard"] is None  # one-time: gone once used
        await bot.send_message(USER, "Menu", reply_markup=ReplyKeyboardMarkup([["Balance"]]))
        assert (await tg.update("press", user_id=USER, label="Balance"))["message"]["text"] == "Balance"
        await bot.send_message(USER, "Thanks", reply_markup=ReplyKeyboardRemove())
    assert (await tg.get(f"chats/{USER}"))["keyboard"] is None


async def test_commands_are_set_and_read_back(tg):
    async with tg.bot() as bot:
        assert await bot.set_my_commands([BotCommand("start", "Main menu"), BotCommand("help", "Help")])
        assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
        with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_get_updates_confirms_by_offset_and_long_polls(tg):
    async with tg.bot() as bot:
        for text in ("one", "two"):
            await tg.update("text", user_id=USER, text=text)
        first, second = await bot.get_updates()
        assert second.update_id == first.update_id + 1
        assert [u.message.text for u in await bot.get_updates(offset=second.update_id)] == ["two"]
        polls = tg.sim.updates.poll
        waiting = asyncio.ensure_future(bot.get_updates(offset=second.update_id + 1, timeout=5))
        await until(lambda: tg.sim.updates.poll == polls + 1)
        assert not waiting.done()
        await tg.update("text", user_id=USER, text="three")
        assert [u.message.text for u in await waiting] == ["three"]


async def test_get_updates_conflicts_with_another_poll_and_with_a_webhook(tg, receiver):
    url, _, _ = receiver
    async with tg.bot() as bot, tg.bot() as rival:
        older = asyncio.ensure_future(bot.get_updates(timeout=5))
        await until(lambda: tg.sim.updates.poll == 1)  # the simulator holds it
        newer = asyncio.ensure_future(rival.get_updates(timeout=0.2))
        with pytest.raises(Conflict, match="(?i)terminated by other getUpdates request"):
            await older
        await newer
        await bot.set_webhook(url)
        with pytest.raises(Conflict, match="(?i)webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
        assert await bot.get_updates() == ()


async def test_webhook_gets_each_update_with_the_secret_token(tg, receiver):
    url, got, _ = receiver
    async with tg.bot() as bot:
        assert await bot.set_webhook(url, secret_token="s3cret-token", allowed_updates=["message", "callback_query"])
        await tg.update("text", user_id=USER, text="hi")
        await tg.update("block", user_id=USER)  # my_chat_member: not asked for, so never delivered
        await until(lambda: len(got) == 1)
        secret, body = got[0]
        assert secret == "s3cret-token" and telegram.Update.de_json(body, bot).message.text == "hi"
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0


async def test_webhook_is_retried_after_a_500_and_the_log_holds_no_user_data(tg, receiver):
    url, got, answers = receiver
    answers.extend([500, 500])
    async with tg.bot() as bot:
        await bot.set_webhook(url, secret_token="s")
        with structlog.testing.capture_logs() as logs:
            update = await tg.update("contact", user_id=USER, phone_number=PHONE)
            await until(lambda: len(got) == 3)
        assert (await bot.get_webhook_info()).last_error_message == "Wrong response from the webhook: " \
                                                                    "500 Internal Server Error"
    assert [body["update_id"] for _, body in got] == [update["update_id"]] * 3
    assert (await tg.get("stats"))["deliveries"][str(update["update_id"])] == {"attempts": 3, "delivered": 1}
    assert [entry["event"] for entry in logs] == ["webhook_delivery_failed"] * 2
    assert not any(str(USER) in repr(entry) or PHONE[3:] in repr(entry) for entry in logs)


async def test_updates_are_delivered_again_on_request(tg, receiver):
    """duplicate_updates: K copies one after another, or all at once."""
    url, got, _ = receiver
    async with tg.bot() as bot:
        await bot.set_webhook(url)
    await tg.faults(duplicate_updates=3)
    first = await tg.update("text", user_id=USER, text="once")
    await tg.faults(duplicate_concurrently=True, duplicate_updates=2)
    second = await tg.update("text", user_id=USER, text="twice")
    await until(lambda: len(got) == 5)
    await asyncio.sleep(0.1)
    ids = [body["update_id"] for _, body in got]
    assert ids.count(first["update_id"]) == 3 and ids.count(second["update_id"]) == 2 and len(ids) == 5


async def test_shortcode_telegram_api_runs_as_its_own_process():
    """`shortcode telegram-api` serves the simulator on [telegram] api_url, accepting [telegram] token."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import free_port

    port, root = free_port(), Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "SHORTCODE_TELEGRAM_API_URL": f"http://127.0.0.1:{port}/bot",
           "SHORTCODE_TELEGRAM_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", "telegram-api"], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bot = telegram.Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot")
        for _ in range(100):
            try:
                me = await bot.get_me()
                break
            except NetworkError:
                await asyncio.sleep(0.1)
        assert me.username == "shortcode_bot"
        with pytest.raises(InvalidToken):
            await telegram.Bot("123456:other", base_url=f"http://127.0.0.1:{port}/bot").get_me()
    finally:
        proc.terminate()
        proc.wait(10)


def _command(*env_pairs: tuple[str, str]):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), **dict(env_pairs)}
    return subprocess.run([sys.executable, "-m", "bot.tools.cli", "telegram-api"], capture_output=True, text=True,
                          env=env, cwd=root, timeout=60)


def test_shortcode_telegram_api_without_a_token_or_on_a_busy_port_says_so_in_one_line():
    import socket

    out = _command(("SHORTCODE_TELEGRAM_TOKEN", ""))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert "[telegram] token" in line and "SHORTCODE_TELEGRAM_TOKEN" in line
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = _command(("SHORTCODE_TELEGRAM_TOKEN", TOKEN),
                       ("SHORTCODE_TELEGRAM_API_URL", f"http://127.0.0.1:{port}/bot"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert "[telegram] api_url" in line and "SHORTCODE_TELEGRAM_API_URL" in line
