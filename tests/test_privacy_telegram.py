"""The privacy check down Telegram's real paths: the canary as a user's text, name and username, a shared
contact, a press, malformed webhook bodies and updates, and sends the simulated Bot API refuses (5xx,
403, 429) or a job that fails outright. Our webhook over loopback, the simulated Bot API over loopback,
the real sender in a real RQ worker; what they logged and left in Redis is read here, and by the suite."""
from __future__ import annotations

import asyncio
import io
import logging
import os
import secrets
import sys
from urllib.parse import urlsplit

import pytest
import redis
import telegram
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from rq import Queue
from sqlalchemy import select

from bot.channels.telegram_poll import poll_once
from bot.logs import ScrubbingFormatter, configure
from integrations.telegram import SECRET_HEADER
from integrations.telegram.simulator import Simulator, make_telegram_app
from jobs import process
from jobs.tables import TelegramOutbox
from jobs.telegram import Pace, TelegramSender, send_telegram
from jobs.worker import ThreadWorker
from tests.privacy import CANARY, body, leaks, rq_leaks
from tests.processes import ROOT, eventually

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")

TOKEN, SECRET = "123456:TEST-token", "tg-secret-1"  # both in tests.privacy.SECRETS
EN = "+8613800000011"  # a silver subscriber who reads English
USER = 62580001  # in no list of the privacy check: found only because it entered by a door
TO = TelegramOutbox.__table__


class Sim:
    """The simulated Bot API on a loopback port, acted on through its control API as a user would."""

    def __init__(self, sim: Simulator, base: str, http: ClientSession) -> None:
        self.sim, self.base, self.http = sim, base, http
        self.api = f"{base}/bot"

    def bot(self, token: str = TOKEN) -> telegram.Bot:
        return telegram.Bot(token, base_url=self.api)

    async def act(self, action: str, **body) -> dict:
        async with self.http.post(f"{self.base}/control/{action}", json={"user_id": USER, **body}) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def faults(self, **changes) -> None:
        async with self.http.post(f"{self.base}/control/faults", json=changes) as r:
            assert r.status == 200

    async def bot_messages(self) -> list[dict]:
        async with self.http.get(f"{self.base}/control/chats/{USER}") as r:
            return [m for m in (await r.json())["messages"] if m["sender"] == "bot"]


@pytest.fixture
async def sim():
    simulator = Simulator(TOKEN, retry_base_s=0.02)
    simulator.limits.set({"global_per_s": 0, "chat_per_s": 0})
    server = TestServer(make_telegram_app(simulator), host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as http:
        yield Sim(simulator, f"http://127.0.0.1:{server.port}", http)
    await server.close()


def private(redis_url: str) -> str:
    """Database 14 of the test server: this test's RQ records alone."""
    return urlsplit(redis_url)._replace(path="/14").geturl()


@pytest.fixture
def private_redis(redis_url):
    client = redis.Redis.from_url(private(redis_url))
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


class Stack:
    """Our web app with Telegram on (its webhook registered with the simulator), and an RQ worker whose
    jobs send through the real sender, with no wait between retries."""

    def __init__(self, base: str, sim: Sim, db, connection: redis.Redis, queue: str) -> None:
        self.base, self.sim, self.db = base, sim, db
        self.connection, self.queue = connection, Queue(queue, connection=connection)

    async def work(self) -> None:
        await asyncio.to_thread(ThreadWorker([self.queue], connection=self.connection).work, burst=True)

    async def answered(self, count: int) -> None:
        """Wait until `count` rows are written, then send what is queued (30 s: a loaded CI machine took
        over 10 s for five answers through the real processes)."""
        await eventually(lambda: len(self.rows()) >= count, timeout=30)
        await self.work()

    def rows(self) -> list:
        with self.db.connect() as conn:
            return conn.execute(select(TO).order_by(TO.c.id)).all()

    async def send_again(self, row_id: int, times: int) -> None:
        for _ in range(times):
            self.queue.enqueue(send_telegram, [row_id])
            await self.work()


class Instant:
    """The pace's clock: a sleep moves it on at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def stack(sim, settings_with, serve, db, redis_url, private_redis, monkeypatch):
    queue = f"privacy-tg-{secrets.token_hex(4)}"
    base = await serve(settings_with(telegram_enabled="true", telegram_token=TOKEN, telegram_secret_token=SECRET,
                                     telegram_api_url=sim.api, redis_url=private(redis_url), jobs_queue=queue))
    async with sim.bot() as bot:
        assert await bot.set_webhook(base + "/telegram/webhook", secret_token=SECRET)
    instant = Instant()  # a 429's hold is kept, not waited
    sender = TelegramSender(db, sim.bot(), Pace(0, 0, instant.clock, instant.sleep), backoff=(0, 0, 0), max_wait_s=0)
    monkeypatch.setitem(process._LENT, "telegram sender", sender)
    return Stack(base, sim, db, private_redis, queue)


def no_leaks(capsys, caplog) -> str:
    """What this test logged so far (read here, so the suite's check does not read it twice): asserted
    free of numbers, secrets, user ids, names and bodies, and returned for what it must hold."""
    out = capsys.readouterr()
    logged = out.out + out.err
    assert leaks(logged) == [] and leaks(caplog.text, all_lines=True) == []
    return logged + caplog.text


async def test_the_canary_as_a_users_text_name_contact_and_press_with_sends_refused(stack, capsys, caplog):
    """A stranger whose names are the canary writes it, shares their contact, presses a button and
    writes it again; then the Bot API answers 5xx until the row fails, 429 with a long wait, and 403
    (the user blocked the bot). Every answer of ours is sent by a real worker."""
    sim = stack.sim
    profile = {"first_name": body("Li"), "last_name": body(), "username": CANARY.lower(), "phone_number": EN}
    await sim.act("text", text=body("hello"), **profile)
    await stack.answered(1)
    await sim.act("contact")  # their own number: linked, then the main menu
    await stack.answered(3)
    menu = (await sim.bot_messages())[-1]
    first = menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await sim.act("press", data=first)
    await sim.act("text", text=body("what is this"))
    await stack.answered(5)
    assert [row.status for row in stack.rows()] == ["sent"] * 5

    await sim.faults(error_rate=1.0)
    await sim.act("text", text=body("the API is down"))
    await stack.answered(6)
    await stack.send_again(stack.rows()[-1].id, 3)
    await sim.faults(error_rate=0.0, flood={"calls": 1, "retry_after": 60})
    await sim.act("text", text=body("flooded"))
    await stack.answered(7)
    await sim.act("text", text=body("blocked"))
    await eventually(lambda: len(stack.rows()) >= 8, timeout=30)
    await sim.act("block")
    await stack.send_again(stack.rows()[-1].id, 1)

    rows = stack.rows()
    assert [(r.status, r.error) for r in rows[5:]] == [
        ("failed", "retry: NetworkError"), ("pending", "flood"), ("failed", "blocked by the user")]
    assert not [r.error for r in rows if CANARY.lower() in r.error.lower()]
    assert stack.connection.keys("rq:job:*") and rq_leaks(stack.connection) == []
    logged = no_leaks(capsys, caplog)
    assert "telegram_linked" in logged and "telegram_send_failed" in logged and "telegram_flood" in logged


async def test_a_send_job_failing_outright_leaves_a_record_without_chat_number_or_body(stack, capsys, caplog):
    """The opt-out lookup before a reminder fails (the table is gone): the job fails, and RQ keeps its
    exception and its call for a year."""
    from bot.channels.telegram_outbound import TelegramOutbound
    from bot.channels.telegram_render import Drawn

    with stack.db.begin() as conn:
        row_id = TelegramOutbound.write(conn, USER, EN, Drawn(body("Your tee time is at 07:30"), ""),
                                        "privacy:tg-reminder", "reminder")
        conn.exec_driver_sql("DROP TABLE opt_out")
    caplog.set_level(logging.CRITICAL, logger="rq.worker")  # its traceback is read from the record below
    job = stack.queue.enqueue(send_telegram, [row_id])
    await stack.work()
    assert job.get_status(refresh=True) == "failed"
    assert "no such table: opt_out" in job.latest_result().exc_string
    assert rq_leaks(stack.connection) == []
    no_leaks(capsys, caplog)


MALFORMED = [
    b'{"update_id": 1, "message": {"text": "' + body().encode(),  # cut short
    b'["' + body().encode() + b'"]',
    b'{"update_id": "' + body().encode() + b'"}',
    b'{"update_id": 2, "message": {"message_id": 1, "date": "' + body().encode() + b'", "chat": {"id": 62580001, '
    b'"type": "private"}, "text": "' + body().encode() + b'"}}',
    b'{"update_id": 3, "message": {"message_id": 1, "date": 1, "chat": {"id": 62580001, "type": "private"}, '
    b'"contact": {"first_name": "' + body().encode() + b'"}}}',
    b'{"update_id": 4, "message": "' + body().encode() * 1100 + b'"}',  # over [http] max_body_bytes
    body().encode("utf-16"),
]


@pytest.mark.parametrize("raw", MALFORMED)
async def test_a_malformed_webhook_body_is_refused_without_quoting_it(stack, raw, capsys, caplog):
    async with ClientSession() as http:
        for secret in (SECRET, "wrong"):
            async with http.post(stack.base + "/telegram/webhook", data=raw,
                                 headers={SECRET_HEADER: secret, "Content-Type": "application/json"}) as r:
                assert r.status in ((400, 413) if secret == SECRET else (403,))
                assert CANARY.lower() not in (await r.text()).lower()
    assert stack.rows() == []
    no_leaks(capsys, caplog)


async def test_the_canary_by_polling_and_in_an_update_python_telegram_bot_cannot_parse(sim, db, capsys, caplog):
    """getUpdates brings one good update and, later, one PTB cannot read: PTB would log every update
    of the batch at CRITICAL (texts, names, numbers); its loggers are off, and our poller reads each item
    on its own and moves past the one it cannot read, logging its update id only."""
    async def answered(inbox_id: int) -> bool:
        return True

    await sim.act("text", text=body("polled"), first_name=body(), username=CANARY.lower())
    assert await poll_once(db, sim.bot(), "123456", answered, timeout=0) == 1
    user = {"id": USER, "is_bot": False, "first_name": body()}
    sim.sim.updates.push({"update_id": 99, "message": {"message_id": 5, "date": body(), "from": user,
                                                       "chat": {"id": USER, "type": "private"}, "text": body()}})
    assert await poll_once(db, sim.bot(), "123456", answered, timeout=0) == 1  # stored as unreadable, passed
    assert not [r for r in caplog.records if r.name.startswith("telegram")]
    no_leaks(capsys, caplog)


async def test_no_library_log_of_a_bot_api_call_passes_the_production_logs_at_any_level(sim, caplog):
    """httpx logs each request's URL (the token in it) at INFO and PTB each call's parameters (chat id,
    text) at DEBUG, below the root logger's WARNING; but PTB logs a getUpdates batch it cannot parse,
    and an answer that is not JSON, at CRITICAL and ERROR, data and all. None of it reaches the log,
    whatever [log] level says."""
    stream, root = io.StringIO(), logging.getLogger()
    pytests = [h for h in root.handlers if not isinstance(h.formatter, ScrubbingFormatter)]
    configure("debug", stream=stream)
    root.handlers.extend(pytests)  # caplog's
    await sim.act("text", text="hi")
    async with sim.bot() as bot:
        await bot.send_message(USER, body("sent"))
        await sim.faults(error_rate=1.0, methods=["sendMessage"])
        with pytest.raises(telegram.error.NetworkError):
            await bot.send_message(USER, body("refused"))
    logging.getLogger("telegram.Bot").critical("Error while parsing updates! Received data was %r",
                                               [{"text": body(), "chat": {"id": USER}}])
    logging.getLogger("telegram.request._baserequest").error('Can not load invalid JSON data: "%s"', body())
    library = [r for r in caplog.records if r.name.split(".")[0] in ("telegram", "httpx", "httpcore")]
    assert library == [] and leaks(stream.getvalue()) == []


async def test_the_telegram_command_with_a_revoked_token_says_so_without_printing_it(sim, tmp_path):
    """PTB's InvalidToken quotes the whole token: `shortcode telegram` names the refusal, not the token."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHORTCODE_TELEGRAM_TOKEN": "123456:REVOKED-token",
           "SHORTCODE_TELEGRAM_SECRET_TOKEN": "tg-secret-1", "SHORTCODE_TELEGRAM_API_URL": sim.api,
           "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/tg.db"}
    for action in (["set-webhook", "http://127.0.0.1:1/telegram/webhook"], ["poll"]):
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.tools.cli", "telegram", *action,
                                                    env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        said = (out + err).decode()
        assert proc.returncode == 1 and "REVOKED" not in said, said
        assert "the Bot API refused the call (InvalidToken: The token `<token>` was rejected" in said


@pytest.fixture
async def processes(tmp_path, redis_url):
    from tests.processes import Stack as Processes, bring_up_telegram, telegram_env

    stack = Processes(tmp_path, redis_url, SHORTCODE_LOG_LEVEL="info", **telegram_env())
    await bring_up_telegram(stack, 50)
    yield stack
    stack.stop()  # reads every process's log: the canary, a token or the user id in one fails here


async def test_the_canary_through_the_real_processes_with_the_bot_api_failing(processes):
    """`serve`, a worker and `telegram-api`, each logging at info: a stranger named by the canary writes
    it, links, writes it again; then the Bot API answers 500 and the worker keeps the answer for a retry."""
    from tests.processes import telegram_api

    api, user = telegram_api(processes), 7000011  # a user id of the privacy check's list (another process)
    async with ClientSession() as http:
        async def act(action: str, **body) -> None:
            async with http.post(f"{api}/control/{action}", json={"user_id": user, **body}) as r:
                assert r.status == 200, await r.text()

        async def stats() -> dict:
            async with http.get(f"{api}/control/stats") as r:
                return await r.json()

        async def sent(n: int) -> bool:
            return (await stats())["calls"].get("sendMessage", 0) >= n

        await act("text", text=body("hello"), first_name=body(), username=CANARY.lower(), phone_number=EN)
        await eventually(lambda: sent(1), timeout=30)
        await act("contact")
        await eventually(lambda: sent(3), timeout=30)  # linked, then the menu
        await act("text", text=body("again"))
        await eventually(lambda: sent(4), timeout=30)
        async with http.post(f"{api}/control/faults", json={"error_rate": 1.0}) as r:
            assert r.status == 200
        await act("text", text=body("refused"))
        await eventually(lambda: sent(5), timeout=30)
        assert (await stats())["errors"].get("sendMessage 500")
