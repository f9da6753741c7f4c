"""The outbox against the simulated gateway over real HTTP: sent once, retried, failed after the last try."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.db import make_engine, upgrade
from bot.models import Outbox
from integrations.smsgateway.client import GatewayClient
from integrations.smsgateway.simulator import Gateway, make_gateway_app
from jobs.outbox import Sender, add

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
async def gateway():
    gw = Gateway("shortcode", "k")
    server = TestServer(make_gateway_app(gw), host="127.0.0.1")
    await server.start_server()
    yield gw, f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
def engine(sql_url):
    """The sender on both databases: its statements are written per dialect (integrations/sqlrows.py)."""
    upgrade(sql_url)
    engine = make_engine(sql_url)
    yield engine
    engine.dispose()


def fill(engine, n, number="+8613800000001"):
    with engine.begin() as conn:
        for i in range(n):
            add(conn, number, f"message {i}", f"test:{i}", NOW)
        add(conn, number, "again", "test:0", NOW)  # the same cause: no second message
    with engine.connect() as conn:
        return list(conn.execute(select(Outbox.id).order_by(Outbox.id)).scalars())


def rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(Outbox).order_by(Outbox.id)).all()


def sender(engine, base, clock, timeout=5.0):
    return Sender(engine, GatewayClient(base, "shortcode", "k", timeout=timeout), backoff=(0, 0, 0), clock=clock)


async def test_every_message_is_sent_once_with_its_gateway_id(gateway, engine):
    gw, base = gateway
    ids = fill(engine, 20)
    assert len(ids) == 20
    sent = await asyncio.to_thread(sender(engine, base, Clock()).send, ids)
    assert sent == 20 and gw.accepted == 20
    assert all(r.status == "sent" and r.gateway_message_id.startswith("ATXid_") for r in rows(engine))
    assert await asyncio.to_thread(sender(engine, base, Clock()).send, ids) == 0  # nothing left to claim


async def test_errors_are_retried_then_marked_failed_after_the_last_attempt(gateway, engine):
    gw, base = gateway
    gw.faults.error_rate = 1.0
    ids = fill(engine, 3)
    s = sender(engine, base, Clock())
    for _ in range(6):
        await asyncio.to_thread(s.send, ids)
    assert [(r.status, r.attempts) for r in rows(engine)] == [("failed", 4)] * 3 and gw.accepted == 0


async def test_thirty_percent_errors_end_sent_or_failed_never_twice(gateway, engine):
    gw, base = gateway
    gw.faults.error_rate = 0.3
    ids = fill(engine, 60)
    s = sender(engine, base, Clock())
    for _ in range(5):
        await asyncio.to_thread(s.send, ids)
    statuses = [r.status for r in rows(engine)]
    assert set(statuses) <= {"sent", "failed"} and statuses.count("sent") == gw.accepted
    assert all(n == 1 for n in (await _stats(base))["per_reference"].values())


async def test_a_timed_out_submit_is_retried_under_the_same_reference_and_accepted_once(gateway, engine):
    gw, base = gateway
    gw.faults.timeout_rate, gw.faults.timeout_s = 1.0, 1.0
    ids = fill(engine, 2)
    s = sender(engine, base, Clock(), timeout=0.3)
    await asyncio.to_thread(s.send, ids)  # the gateway took both, we never heard
    assert {r.status for r in rows(engine)} == {"pending"} and gw.accepted == 2
    gw.faults.timeout_rate = 0.0
    await asyncio.to_thread(s.send, ids)
    assert {r.status for r in rows(engine)} == {"sent"} and gw.accepted == 2


async def test_rows_of_a_dead_worker_come_back_after_their_claim_lapses(gateway, engine):
    gw, base = gateway
    ids = fill(engine, 3)
    clock = Clock()
    s = sender(engine, base, clock)
    s._submit = lambda *args: (_ for _ in ()).throw(SystemExit)  # dies after claiming
    with pytest.raises(SystemExit):
        await asyncio.to_thread(s.send, ids)
    alive = sender(engine, base, clock)
    assert alive.due() == [] and await asyncio.to_thread(alive.send, ids) == 0  # still claimed
    clock.now += timedelta(seconds=61)
    assert alive.due() == ids and await asyncio.to_thread(alive.send, ids) == 3 and gw.accepted == 3


async def test_invalid_number_fails_at_once(gateway, engine):
    _, base = gateway
    ids = fill(engine, 1, number="+86123")
    await asyncio.to_thread(sender(engine, base, Clock()).send, ids)
    (row,) = rows(engine)
    assert row.status == "failed" and row.error == "gateway status 403"


async def _stats(base):
    async with ClientSession() as http:
        async with http.get(base + "/control/stats") as r:
            return await r.json()


async def test_rq_jobs_on_a_real_redis_send_the_outbox(gateway, engine, redis_url, settings, monkeypatch):
    """rescan queues batches of ids; a real RQ worker runs them; the gateway's own count proves it."""
    import redis
    from rq import Queue

    from jobs import outbox, process
    from jobs.worker import ThreadWorker

    gw, base = gateway
    ids = fill(engine, 1200)
    monkeypatch.setitem(process._LENT, "outbox sender", sender(engine, base, Clock()))
    conn = redis.Redis.from_url(redis_url)
    queue = Queue(f"outbox-{settings.redis.prefix}", connection=conn)
    queue.enqueue(outbox.rescan)
    worker = ThreadWorker([queue], connection=conn)
    await asyncio.to_thread(worker.work, burst=True)
    assert gw.accepted == 1200 == len(ids) and {r.status for r in rows(engine)} == {"sent"}
    assert queue.finished_job_registry.count == 1 + 3  # the re-scan, then three batches of at most 500


async def test_an_opt_out_stops_reminders_already_queued_but_not_replies(gateway, engine):
    from sqlalchemy import insert

    from bot.models import OptOut

    gw, base = gateway
    with engine.begin() as conn:
        for n in range(5):
            add(conn, "+8613800000002", f"reminder {n}", f"remind:{n}", NOW, kind="reminder")
        add(conn, "+8613800000002", "You are unsubscribed.", "stop:1", NOW, kind="confirmation")
        add(conn, "+8613800000003", "reminder", "remind:other", NOW, kind="reminder")
        conn.execute(insert(OptOut.__table__).values(msisdn="+8613800000002", opted_out=True, channel="sms",
                                                     text="STOP", changed_at=NOW))
    ids = [r.id for r in rows(engine)]
    assert await asyncio.to_thread(sender(engine, base, Clock()).send, ids) == 2
    assert {(r.cause, r.status) for r in rows(engine)} == {
        *((f"remind:{n}", "suppressed") for n in range(5)), ("stop:1", "sent"), ("remind:other", "sent")}
    assert sorted(m.text for m in gw.messages.values()) == ["You are unsubscribed.", "reminder"]


async def test_an_unreadable_gateway_answer_is_retried_then_failed_never_stranded(engine):
    """A 200 naming no recipient (as a gateway does for a bad sender id): each attempt is a retry with
    backoff, the last one fails the row; nothing stays claimed in "sending"."""
    from aiohttp import web

    async def odd(request):
        return web.json_response({"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}})

    app = web.Application()
    app.router.add_post("/version1/messaging/bulk", odd)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    ids = fill(engine, 2)
    s = sender(engine, f"http://127.0.0.1:{server.port}", Clock())
    for attempt in range(4):
        assert await asyncio.to_thread(s.send, ids) == 0
        assert {r.status for r in rows(engine)} == ({"pending"} if attempt < 3 else {"failed"})
    assert {r.attempts for r in rows(engine)} == {4} and "answer names 0 of 2" in rows(engine)[0].error
    await server.close()


async def test_a_row_whose_last_attempt_died_with_its_worker_is_failed_not_claimed_again(gateway, engine):
    gw, base = gateway
    (row_id,) = fill(engine, 1)
    clock = Clock()
    with engine.begin() as conn:
        conn.execute(Outbox.__table__.update().values(status="sending", attempts=4, claim="dead",
                                                      claimed_until=NOW - timedelta(seconds=1)))
    assert await asyncio.to_thread(sender(engine, base, clock).send, [row_id]) == 0
    (row,) = rows(engine)
    assert (row.status, row.attempts, gw.submits) == ("failed", 4, 0)


async def test_a_slow_batch_keeps_its_claim_so_no_other_job_takes_its_tail(gateway, engine):
    """Sending takes longer than the claim: the worker renews it, so a re-scan running meanwhile finds
    nothing to take and every message is submitted once."""
    gw, base = gateway
    gw.faults.latency_ms = 300
    ids = fill(engine, 6)
    real = lambda: datetime.now(timezone.utc)  # noqa: E731  (claims must lapse in real time here)
    slow = Sender(engine, GatewayClient(base, "shortcode", "k"), backoff=(0, 0, 0), clock=real, claim_s=1.0, chunk=1)
    rival = Sender(engine, GatewayClient(base, "shortcode", "k"), backoff=(0, 0, 0), clock=real, claim_s=1.0)
    with engine.begin() as conn:
        conn.execute(Outbox.__table__.update().values(next_attempt_at=real() - timedelta(minutes=1)))
    first = asyncio.create_task(asyncio.to_thread(slow.send, ids))
    await asyncio.sleep(1.4)  # past the first claim, before the batch is done
    assert await asyncio.to_thread(rival.send, ids) == 0
    assert await first == 6 and gw.submits == 6
