"""Workers across a Redis restart, nothing restarting them: the in-process worker of a real `shortcode
serve` (health says when it cannot work) and a standalone `shortcode worker`. Each backs off while Redis is
away and sends what is queued once it is back."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from aiohttp import ClientSession, ClientTimeout
from rq import Queue
from sqlalchemy import create_engine, func, select

from bot.db import upgrade
from jobs import outbox
from jobs.tables import Outbox
from tests.processes import UNGATED, Stack, bring_up, eventually, wait_http

HANG = 10
OUTAGE = 3  # seconds Redis stays down (the issue saw a 6 s restart stop every outbound SMS)
O = Outbox.__table__


@pytest.fixture
async def stack(tmp_path, own_redis):
    stack = Stack(tmp_path, own_redis.url, SHORTCODE_JOBS_INPROCESS_WORKER="true", SHORTCODE_LOG_LEVEL="info")
    await bring_up(stack, 20, worker=False)
    try:
        yield stack
    finally:
        stack.stop()


async def health(stack: Stack, path: str = "/readyz") -> tuple[int, dict]:
    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        async with http.get(stack.web + path) as r:
            return r.status, await r.json() if r.content_type == "application/json" else {}


async def text_in(stack: Stack, msisdn: str, body: str) -> None:
    """A subscriber texts the short code through the simulated gateway."""
    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        async with http.post(stack.gateway + "/control/inbound", json={"from": msisdn, "to": "12580",
                                                                        "text": body}) as r:
            assert r.status == 200, await r.text()


async def sent_to(stack: Stack, msisdn: str) -> bool:
    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        async with http.get(stack.gateway + "/control/stats") as r:
            return any(m["to"] == msisdn for m in (await r.json())["messages"])


async def test_inprocess_worker_sends_a_reply_queued_after_a_redis_restart(stack, own_redis):
    """Redis SIGKILLed for a few seconds, then back empty: a reply queued after that is sent by the same
    `serve`, and the outage is logged once, then its end."""
    before, after = "+8613800000002", "+8613800000003"
    await text_in(stack, before, "HELP")
    await eventually(lambda: sent_to(stack, before), timeout=20)

    own_redis.kill()
    await asyncio.sleep(OUTAGE)
    own_redis.start()

    await text_in(stack, after, "HELP")
    await eventually(lambda: sent_to(stack, after), timeout=30, every=0.2)
    assert stack.procs["web"].poll() is None
    log = stack.log("web")
    assert log.count('"worker_redis_unavailable"') == 1 and '"worker_recovered"' in log, log[-3000:]


async def test_ready_answers_503_while_the_inprocess_worker_cannot_work_and_200_once_it_can(stack, own_redis):
    """Not ready while Redis is away and the worker fails; alive all along (a restart would not help)."""
    assert (await health(stack))[0] == 200
    own_redis.kill()

    async def unhealthy():
        status, body = await health(stack)
        return status == 503 and "worker" in body.get("reason", "") and body
    down = await eventually(unhealthy, timeout=20, every=0.2)
    assert down["status"] == "unavailable" and "redis" in down["reason"], down
    assert await health(stack, "/healthz") == (200, {"status": "ok"})

    own_redis.start()

    async def healthy():
        return (await health(stack))[0] == 200
    await eventually(healthy, timeout=20, every=0.2)


async def test_standalone_worker_waits_for_redis_and_outlives_its_restart(tmp_path, own_redis):
    """`shortcode worker` started while Redis is down, then Redis restarted under it: each batch queued
    while Redis is up is sent, by the one worker process."""
    stack = Stack(tmp_path, own_redis.url, **UNGATED)
    upgrade(stack.env["SHORTCODE_DATABASE_URL"])
    db = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    queue = stack.env["SHORTCODE_JOBS_QUEUE"]

    def queue_batch(first: int) -> None:
        now = datetime.now(timezone.utc)
        with db.begin() as conn:
            for i in range(first, first + 5):
                outbox.add(conn, f"+86139{i:08d}", f"Reminder {i}", f"test:{i}", now, "reminder")
        with db.connect() as conn:
            ids = list(conn.execute(select(O.c.id).where(O.c.status == "pending")).scalars())
        with own_redis.client() as client:
            outbox.enqueue(Queue(queue, connection=client), ids)

    def sent() -> int:
        assert stack.procs["worker"].poll() is None, "the worker died with its Redis: " + stack.log("worker")[-2000:]
        with db.connect() as conn:
            return conn.execute(select(func.count()).select_from(O).where(O.c.status == "sent")).scalar_one()

    try:
        stack.start("gateway", "gateway")
        await wait_http(stack.gateway + "/control/stats")
        own_redis.kill()
        stack.start("worker", "worker")
        await asyncio.sleep(OUTAGE)
        own_redis.start()
        queue_batch(0)
        await eventually(lambda: sent() == 5, timeout=30, every=0.2)

        own_redis.kill()
        await asyncio.sleep(OUTAGE)
        own_redis.start()
        queue_batch(5)
        await eventually(lambda: sent() == 10, timeout=30, every=0.2)
        # logged once per outage, never per try: the first always (the worker starts without Redis); the second
        # only when RQ's wait saw it, since redis-py's own retries (1, 2, 4 s) may ride out a 3 s restart
        assert stack.log("worker").count('"worker_redis_unavailable"') in (1, 2)
    finally:
        stack.stop()
        db.dispose()
