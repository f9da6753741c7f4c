"""The privacy check's own tests. First, each detector fails on a planted leak: a log line, an RQ failure
record. Then the canary (`tests.privacy.body`) goes down the real paths, failing ones included, and the
suite's check reads whatever they logged and left in Redis."""
from __future__ import annotations

import asyncio
import json
import logging
import operator
import secrets
import zlib
from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit

import pytest
import redis
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from rq import Queue
from sqlalchemy import select

from bot.models import SmsInbox
from bot.web import USSD, make_app
from bot.wiring import build_core
from integrations.smsgateway.client import GatewayClient
from integrations.smsgateway.signing import headers
from integrations.smsgateway.simulator import Gateway, make_gateway_app
from jobs import outbox, process
from jobs.tables import Outbox
from jobs.worker import ThreadWorker
from tests.conftest import free_port
from tests.privacy import CANARY, body, leaks, remember, remember_name, remember_phone, remember_user, rq_leaks
from tests.processes import Stack, bring_up, eventually
from tests.rq_records import records

EN, ZH = "+8613800000011", "+8613800000001"  # silver, English; gold, Chinese
SMS_SECRET = "new-secret"
RESIDENT_ID = "440524188001010014"
DB_PASSWORD = "privacy-db-password"  # in tests.privacy.SECRETS
O, I = Outbox.__table__, SmsInbox.__table__


def json_line(**event: object) -> str:
    """A log line as the production renderer writes it (JSONRenderer(ensure_ascii=True))."""
    return json.dumps({"timestamp": "2026-11-23T02:00:00Z", "level": "error", **event}, ensure_ascii=True)


# -- the detectors fail on what they must find ------------------------------------------------------
@pytest.mark.parametrize("line", [
    json_line(event="sms_answered", msisdn="+8613800000001"),
    json_line(event="hop", key="test-secret"),
    json_line(event="sms_turn_failed", text=body("hello")),
    json_line(event="turn_failed", exception=f"Traceback:\n  File \"x.py\", line 1\nValueError: {body()}"),
    f"2026-11-23 02:00:00,123 ERROR rq.worker: job failed for {body().upper()}",
    json_line(event="telegram_send_failed", chat=5550001),
    json_line(event="telegram_update_stored", user=-7100007),
    json_line(event="telegram_linked", username=body().lower()),
    "2026-11-23 02:00:00,123 WARNING httpx: HTTP Request: POST http://127.0.0.1:8091/bot123456:TEST-token/getMe",
    "2026-11-23 02:00:00,123 ERROR telegram.ext: token E2E-token refused",
])
def test_a_log_line_with_a_number_a_secret_or_the_canary_is_a_leak(line):
    """Only log lines count: the first line (no timestamp, not JSON) is output a test printed."""
    assert leaks(f"not a log line {body()}\n{line}\n") == [line]


def test_a_body_the_suite_sent_is_found_in_a_log_line_escaped_or_masked():
    """Bodies are remembered as sent; the JSON renderer escapes Chinese and the masking rewrites digits."""
    sent = f"您的挂号已确认，就诊人 {secrets.token_hex(4)}，电话 13912345678"
    remember(sent)
    assert leaks(json_line(event="sms_answered", reply=sent))
    assert leaks(json_line(event="sms_answered", reply=sent.replace("13912345678", "139****5678")))
    assert leaks(f"2026-11-23 02:00:00 WARNING rq.worker: {sent.splitlines()[0]}")


def test_a_telegram_user_id_name_or_shared_number_that_entered_by_a_door_is_found_alone():
    """Ids, names and numbers are remembered by value: a user id inside a longer number, the bot's own id
    (its token's public part), a name within a longer word, and names too short to tell are not leaks."""
    user, name = 10_000_000 + secrets.randbelow(10 ** 7), f"li_{secrets.token_hex(4)}"
    remember_user(user), remember_user(123456), remember_user(4242)
    remember_name(name), remember_name("Li"), remember_name(f"Wei {name[3:]}")
    remember_phone("447700900123")
    assert leaks(json_line(event="telegram_send_failed", chat=user))
    assert leaks(f"2026-11-23 02:00:00 WARNING x: chat -{user} blocked")
    assert leaks(json_line(event="telegram_linked", who=f"@{name}"))
    assert leaks(json_line(event="telegram_linked", who=f"Wei {name[3:]}"))
    assert leaks(json_line(event="telegram_contact_refused", number="+447700900123"))
    assert leaks(json_line(event="x", note=f"{user}0", session=f"123456:{user}")) == [json_line(
        event="x", note=f"{user}0", session=f"123456:{user}")]  # the session names the user: a leak
    assert leaks(json_line(event="x", note=f"{user}0 {name}x Li 4242", session="123456:7")) == []


def test_a_session_id_equal_to_a_body_is_an_identifier_not_a_leak():
    """The hostile-input fuzzer may send the same random text as the gateway's session id and as the
    input: the session id is logged on purpose; the same text in any other field is a body."""
    sent = f"fuzz-{secrets.token_hex(8)}"
    remember(sent)
    assert not leaks(json_line(event="screen_rendered", session=sent))
    assert leaks(json_line(event="screen_rendered", session=sent, input=sent))


def test_short_bodies_and_a_tracebacks_quoted_source_are_not_leaks():
    """A keyword is in logs by chance; a test's source, quoted by a traceback, holds bodies as literals."""
    quoted = f"text = {secrets.token_hex(8)} + 'literal'"
    remember("GOLF")
    remember(quoted)
    trace = f'Traceback (most recent call last):\n  File "tests/x.py", line 3, in t\n    {quoted}\nKeyError: 1'
    assert leaks(json_line(event="menu", goto="GOLF")) == []
    assert leaks(json_line(event="turn_failed", exception=trace)) == []
    assert leaks(json_line(event="turn_failed", exception=trace.replace("KeyError: 1", quoted)))


def private(redis_url: str) -> str:
    """Database 15 of the test server: one test's alone, and not the one the session scan reads."""
    return urlsplit(redis_url)._replace(path="/15").geturl()


@pytest.fixture
def private_redis(redis_url):
    client = redis.Redis.from_url(private(redis_url))
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.mark.parametrize("leak", ["+8613800000001", "demo-secret", body("note")])
def test_the_rq_scan_reports_a_failed_job_whose_exception_carries_a_number_a_secret_or_a_body(
        private_redis, caplog, leak):
    """A real worker fails a real job: RQ 3 keeps the traceback in the job's results stream (zlib, then
    base64: exc_string) and the call in the job hash (zlib pickle: data). Older RQ kept the traceback
    in the job hash (zlib: exc_info), planted here as it wrote it."""
    caplog.set_level(logging.CRITICAL, logger="rq.worker")  # the worker's own log line would fail the run
    queue = Queue("planted", connection=private_redis)
    job = queue.enqueue(operator.getitem, {}, leak, description="planted failure")  # KeyError: '<leak>'
    ThreadWorker([queue], connection=private_redis).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    private_redis.hset("rq:job:legacy", "exc_info", zlib.compress(f"Traceback ...\nKeyError: '{leak}'".encode()))
    found = {where.split()[-1] for where, _ in rq_leaks(private_redis)}
    assert found == {"exc_string", "data", "exc_info"}


# -- the canary down the real paths: the session's check reads their logs and records ---------------
def run_jobs(connection: redis.Redis, queue: Queue) -> None:
    ThreadWorker([queue], connection=connection).work(burst=True)


def test_a_send_job_failing_on_a_subscribers_row_leaves_a_record_without_number_or_body(db, settings, redis_url,
                                                                                         monkeypatch):
    """The opt-out lookup for the subscriber's number fails (the table is gone): RQ keeps the failure
    for a year, so its text must carry neither the number nor the body."""
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        outbox.add(conn, EN, body("Your tee time is at 07:30"), "privacy:reminder", now, kind="reminder")
        row_id = conn.execute(select(O.c.id).where(O.c.cause == "privacy:reminder")).scalar_one()
        conn.exec_driver_sql("DROP TABLE opt_out")
    monkeypatch.setitem(process._LENT, "outbox sender", outbox.Sender(db, GatewayClient(f"http://127.0.0.1:{free_port()}",
                                                                           "shortcode", "k")))
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"privacy-{settings.redis.prefix}", connection=connection)
    job = queue.enqueue(outbox.send_outbox, [row_id])
    run_jobs(connection, queue)
    assert job.get_status(refresh=True) == "failed"
    assert "no such table: opt_out" in job.latest_result().exc_string
    texts = [text for where, text in records(connection) if job.id in where]
    assert texts and not [leak for text in texts for leak in leaks(text, all_lines=True)]


async def test_gateway_errors_on_a_canary_body_keep_it_out_of_the_row_and_the_job(db, settings, redis_url,
                                                                                   monkeypatch):
    gateway = Gateway("shortcode", "k")
    gateway.faults.error_rate = 1.0
    server = TestServer(make_gateway_app(gateway), host="127.0.0.1")
    await server.start_server()
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        outbox.add(conn, ZH, body("您的验证码"), "privacy:code", now, kind="confirmation")
        row_id = conn.execute(select(O.c.id).where(O.c.cause == "privacy:code")).scalar_one()
    client = GatewayClient(f"http://127.0.0.1:{server.port}", "shortcode", "k")
    monkeypatch.setitem(process._LENT, "outbox sender", outbox.Sender(db, client, backoff=(0, 0, 0)))
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"privacy-gw-{settings.redis.prefix}", connection=connection)
    for _ in range(4):  # the last attempt fails the row
        queue.enqueue(outbox.send_outbox, [row_id])
        await asyncio.to_thread(run_jobs, connection, queue)
    await server.close()
    with db.connect() as conn:
        row = conn.execute(select(O).where(O.c.id == row_id)).one()
    assert (row.status, row.attempts) == ("failed", 4) and CANARY not in row.error


class App:
    """The web app over loopback, with its partners at hand to fail them."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.base = f"http://127.0.0.1:{server.port}"
        self.services = server.app[USSD].dispatcher.services

    async def post(self, path: str, body: bytes, extra: dict[str, str] | None = None) -> tuple[int, str]:
        async with ClientSession() as http:
            async with http.post(self.base + path, data=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", **(extra or {})}) as r:
                return r.status, await r.text()

    async def text(self, db, msisdn: str, text: str) -> tuple[str | None]:
        """A signed inbound SMS; (its reply,) once answered, (None,) when answered with silence."""
        message_id = f"privacy-{secrets.token_hex(6)}"
        form = urlencode({"id": message_id, "from": msisdn, "to": "12580", "text": text, "date": "2026-11-23",
                          "linkId": "l", "networkCode": "46000"}).encode()
        assert await self.post("/sms/inbound", form, headers(SMS_SECRET, form)) == (200, "OK")
        return await eventually(lambda: answered(db, message_id), timeout=10)

    async def hop(self, msisdn: str, session: str, inputs: list[str]) -> str:
        form = urlencode({"sessionId": session, "serviceCode": "*126#", "phoneNumber": msisdn,
                          "text": "*".join(inputs)}).encode()
        status, text = await self.post("/ussd/africastalking?key=test-secret", form)
        assert status == 200, text
        return text


def answered(db, message_id: str) -> tuple[str | None] | None:
    with db.connect() as conn:
        row = conn.execute(select(I.c.id, I.c.processed_at).where(I.c.message_id == message_id)).first()
        if row is None or row.processed_at is None:
            return None
        return (conn.execute(select(O.c.text).where(O.c.cause == f"sms-in:{row.id}")).scalar(),)


@pytest.fixture
async def app(settings_with, db):
    settings = settings_with(sms_secrets=SMS_SECRET, sms_max_per_minute=15,
                             jobs_queue=f"privacy-{secrets.token_hex(4)}")
    server = TestServer(make_app(build_core(settings)), host="127.0.0.1")
    await server.start_server()
    yield App(server)
    await server.close()


async def test_the_canary_by_sms_as_unknown_text_a_patients_name_and_a_flood(app, db):
    """Unknown text gets the menu; the name goes to the hospital, which is down at the last step; a
    flood past the limit gets one notice, then silence (twice the limit: the count restarts each minute)."""
    (menu,) = await app.text(db, EN, body("hello"))
    assert menu.startswith("Reply with a number")
    (screen,) = await app.text(db, EN, "DOC")
    for _ in range(6):
        if "Patient's name?" in screen:
            break
        (screen,) = await app.text(db, EN, "1")
    assert "Patient's name?" in screen
    (screen,) = await app.text(db, EN, body())
    assert "resident ID" in screen
    (screen,) = await app.text(db, EN, RESIDENT_ID)
    assert "1. Confirm" in screen
    app.services.hospital.faults.down = True
    await app.text(db, EN, "1")
    flood = [await app.text(db, ZH, body(f"flood {n}")) for n in range(31)]
    assert (None,) in flood


@pytest.mark.parametrize("form", [
    {"text": body() + "x" * 1600},
    {"text": body() + "\x00"},
    {"text": body(), "from": "not a number"},
    {"text": body(), "to": "1" * 17},
])
async def test_refused_sms_carrying_the_canary_get_a_4xx_that_does_not_quote_it(app, form):
    sms = urlencode({"id": "privacy-bad", "from": ZH, "to": "12580", **form}).encode()
    status, text = await app.post("/sms/inbound", sms, headers(SMS_SECRET, sms))
    assert status == 400 and CANARY not in text
    status, text = await app.post("/sms/inbound", sms, headers("wrong-secret", sms))
    assert status == 403 and CANARY not in text


async def test_the_canary_by_ussd_as_a_name_with_the_hospital_down_and_in_a_session_end(app):
    menu = await app.hop(EN, "privacy-u1", [])
    inputs = [next(line.split(".")[0] for line in menu.splitlines() if "Doctor" in line)]
    while "Patient's name?" not in (screen := await app.hop(EN, "privacy-u1", inputs)) and len(inputs) < 8:
        inputs.append("1")
    assert "Patient's name?" in screen
    inputs.append(body())
    assert "resident ID" in await app.hop(EN, "privacy-u1", inputs)
    inputs.append(RESIDENT_ID)
    assert "1. Confirm" in await app.hop(EN, "privacy-u1", inputs)
    app.services.hospital.faults.down = True
    assert (await app.hop(EN, "privacy-u1", [*inputs, "1"])).startswith("CON ")
    too_long = urlencode({"sessionId": "privacy-u2", "serviceCode": "*126#", "phoneNumber": EN,
                          "text": body() * 70}).encode()
    status, text = await app.post("/ussd/africastalking?key=test-secret", too_long)
    assert status == 400 and CANARY not in text
    end = urlencode({"sessionId": "privacy-u1", "serviceCode": "*126#", "phoneNumber": EN, "status": "Failed",
                     "durationInMillis": "5230", "hopsCount": "9", "input": body(),
                     "errorMessage": f"handset said {body()}"}).encode()
    assert await app.post("/ussd/africastalking/end?key=test-secret", end) == (200, "OK")


async def test_the_canary_by_ussd_with_redis_down_is_not_in_the_logged_traceback(settings_with, db):
    core = build_core(settings_with(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    server = TestServer(make_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        assert (await App(server).hop(ZH, "privacy-r1", ["5", body()])).startswith("END ")
    finally:
        await server.close()


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url, SHORTCODE_LOG_LEVEL="info")
    await bring_up(stack, 50)
    yield stack
    stack.stop()  # reads every process's log: the canary in one fails here


async def test_the_canary_through_the_real_processes_with_the_gateway_failing(stack):
    """`serve`, a worker and the gateway, each logging at info: a text and its reply, then a text whose
    reply the gateway refuses (500) and the worker keeps for a retry."""
    async with ClientSession() as http:
        async def text(words: str) -> None:
            async with http.post(stack.gateway + "/control/inbound",
                                 json={"from": EN, "to": "12580", "text": words}) as r:
                assert r.status == 200

        async def stats() -> dict:
            async with http.get(stack.gateway + "/control/stats") as r:
                return await r.json()

        async def more_than(key: str, n: int) -> bool:
            return (await stats())[key] > n

        await text(body("hello"))
        await eventually(lambda: more_than("accepted", 0))
        async with http.post(stack.gateway + "/control/faults", json={"error_rate": 1.0}) as r:
            assert r.status == 200
        submits = (await stats())["submits"]
        await text(body("again"))
        await eventually(lambda: more_than("submits", submits))  # the reply met the 500


# -- jobs take no number and no secret as an argument ---------------------------------------------------
# RQ keeps a job's call (description and pickled data) for its result TTL, a year when it fails, and a
# worker logging at INFO prints it. Both of these leaked until jobs/process.py lent jobs the database.
def test_the_points_expiry_chain_leaves_no_number_in_its_rq_records(db, private_redis, caplog, monkeypatch):
    from jobs.points_expiry import expire_cycle

    caplog.set_level(logging.WARNING, logger="rq.worker")  # RQ logs each job's call at INFO
    queue = Queue("expiry", connection=private_redis)
    monkeypatch.setitem(process._LENT, "database", db)
    queue.enqueue(expire_cycle, "2026-11-30", 20)
    ThreadWorker([queue], connection=private_redis).work(burst=True)
    assert queue.finished_job_registry.count == 4  # 50 subscribers, 20 a batch, and the one finding none
    assert rq_leaks(private_redis) == []


async def test_the_reconciliation_job_leaves_no_database_password_in_its_rq_records(settings_with, redis_url,
                                                                                    private_redis):
    settings = settings_with(database_url=f"postgresql+psycopg://shortcode:{DB_PASSWORD}@127.0.0.1:1/shortcode",
                             redis_url=private(redis_url), schedule_inprocess="true",
                             schedule_reconcile="every 1s")
    server = TestServer(make_app(build_core(settings)), host="127.0.0.1")
    await server.start_server()
    await eventually(lambda: private_redis.keys("rq:job:*"), timeout=5)
    await server.close()
    assert rq_leaks(private_redis) == []
