"""Hardening: Redis killed and restarted empty, or slow, under the USSD path and the outbox.

Every Redis here is a real redis-server of the test's own (free port, no persistence), killed and
restarted by PID; a slow Redis is that server behind a small TCP proxy holding each chunk sent to it.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from aiohttp import ClientSession, ClientTimeout
from rq import Queue
from sqlalchemy import create_engine, func, select

from bot.db import upgrade
from bot.dispatcher import APOLOGY
from bot.engine.session import loads
from bot.store import _SAVE
from bot.wiring import build_core
from integrations.boss.tables import BossAccount
from jobs import outbox
from jobs.tables import Outbox
from tests.processes import UNGATED, Stack, eventually, wait_http

SECRET = "test-secret"
O = Outbox.__table__
HANG = 10  # client-side cap: a hop slower than this is a hang, reported as such


# -- USSD over HTTP ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    seconds: float


async def hop(http: ClientSession, base: str, msisdn: str, ref: str, inputs: list[str]) -> Answer:
    """One USSD hop as the gateway sends it: text is every input so far joined by '*'."""
    started = time.monotonic()
    async with http.post(f"{base}/ussd/africastalking", params={"key": SECRET},
                         data={"sessionId": ref, "serviceCode": "*126#", "phoneNumber": msisdn,
                               "networkCode": "46000", "text": "*".join(inputs)}) as r:
        body = await r.text()
    return Answer(r.status, body, time.monotonic() - started)


def apologies(settings) -> set[str]:
    catalogs = build_core(settings).catalogs
    return {"END " + catalogs.render(lang, APOLOGY) for lang in ("zh_Hans", "en")}


def accounts(db, numbers: list[str]) -> dict[str, BossAccount]:
    A = BossAccount.__table__
    with db.connect() as conn:
        return {r.msisdn: r for r in conn.execute(select(A).where(A.c.msisdn.in_(numbers)))}


def digits(text: str) -> str:
    return text.replace(",", "")


POINTS, ACCOUNT = ["2", "1"], ["1", "2"]  # main -> My points -> balance; main -> My account -> prepaid balance


async def baseline(http: ClientSession, base: str, msisdn: str, path: list[str]) -> list[str]:
    """The screens of a path walked with Redis healthy, then back home (so nothing is offered to resume)."""
    ref = f"base-{msisdn}"
    screens = [(await hop(http, base, msisdn, ref, path[:i])).text for i in range(len(path) + 1)]
    home = await hop(http, base, msisdn, ref, [*path, "00"])
    assert home.text == screens[0]
    assert all(s.startswith("CON ") for s in screens), screens
    return screens


# -- 1. USSD sessions across a Redis restart -----------------------------------------------------
async def test_redis_restarted_mid_session_hops_get_polite_answers_and_no_one_sees_another_subscribers_data(
        own_redis, settings_with, serve, db):
    """Redis SIGKILLed mid-session and restarted empty: hops while it is down get a prompt END apology, old
    sessions restart at the main menu, and every screen afterwards shows only the caller's own data."""
    timeout = 2.0
    settings = settings_with(redis_url=own_redis.url, ussd_reply_timeout=timeout)
    base = await serve(settings)
    sorry = apologies(settings)
    numbers = [f"+86138{n:08d}" for n in range(1, 21)]
    newcomers = [f"+86138{n:08d}" for n in range(21, 26)]  # first dial while Redis is down
    paths = {m: POINTS if i % 2 == 0 else ACCOUNT for i, m in enumerate(numbers)}
    own = accounts(db, numbers)

    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        screens = dict(zip(numbers, await asyncio.gather(*(baseline(http, base, m, paths[m]) for m in numbers))))
        for m in numbers:  # each subscriber's own balance is on their screen: the comparisons below mean something
            shown = screens[m][1] if paths[m] is POINTS else screens[m][2]
            mine = str(own[m].points) if paths[m] is POINTS else f"{own[m].balance_fen / 100:.2f}"
            assert mine in digits(shown), (m, shown)
        assert len({screens[m][1] for m in numbers if paths[m] is POINTS}) == len(numbers) // 2

        async def walk(m: str, inputs: list[str]) -> Answer:
            return await hop(http, base, m, f"live-{m}", inputs)

        for step in range(2):  # dial, then one step into the product
            answers = await asyncio.gather(*(walk(m, paths[m][:step]) for m in numbers))
            assert [a.text for a in answers] == [screens[m][step] for m in numbers]

        # the next step is in flight when Redis is SIGKILLed: each gets its screen or the apology
        in_flight = asyncio.gather(*(walk(m, paths[m]) for m in numbers))
        await asyncio.sleep(0.005)
        own_redis.kill()
        for m, a in zip(numbers, await in_flight):
            assert (a.status == 200 and a.text in {screens[m][2], *sorry}) or 400 <= a.status < 500, (m, a)
            assert a.seconds < timeout + 1.5, a

        retried = {m: [*paths[m], paths[m][-1]] for m in numbers}  # the subscriber sends the last input again
        down = await asyncio.gather(*(walk(m, retried[m]) for m in numbers),
                                    *(hop(http, base, m, f"new-{m}", []) for m in newcomers))
        for a in down:  # Redis down: a prompt apology (or a 4xx), never a 5xx or a hang
            assert (a.status == 200 and a.text in sorry) or 400 <= a.status < 500, a
            assert a.seconds < timeout + 1.5, a

        own_redis.start()
        with own_redis.client() as fresh:
            assert fresh.dbsize() == 0  # the sessions are gone

        again = await asyncio.gather(*(walk(m, [*retried[m], "1"]) for m in numbers))
        for m, a in zip(numbers, again):  # the session is gone: it restarts at the main menu, politely
            assert (a.status, a.text) == (200, screens[m][0]), (m, a)
            assert a.seconds < timeout + 1.5, a
        for i in range(2):
            answers = await asyncio.gather(*(walk(m, [*retried[m], "1", *paths[m][:i + 1]]) for m in numbers))
            for m, a in zip(numbers, answers):  # the subscriber's own screens, never a neighbour's
                assert (a.status, a.text) == (200, screens[m][i + 1]), (m, a)

    with own_redis.client() as stored:
        raws = {m: stored.get(f"{settings.redis.prefix}s:{{{m}}}") for m in numbers}
    for m, raw in raws.items():  # each stored session is its own subscriber's, under its own key
        session = loads(raw.decode().split("|", 1)[1])
        assert (session.msisdn, session.ref, session.hops) == (m, f"live-{m}", len(retried[m]) + 1 + len(paths[m]))


# -- 2. the outbox across a Redis restart --------------------------------------------------------
async def gateway(stack: Stack, path: str, body: dict | None = None) -> dict:
    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        if body is None:
            async with http.get(stack.gateway + path) as r:
                return await r.json()
        async with http.post(stack.gateway + path, json=body) as r:
            return await r.json()


@pytest.fixture
async def outbox_stack(tmp_path, own_redis):
    stack = Stack(tmp_path, own_redis.url, SHORTCODE_JOBS_CLAIM_SECONDS="2", SHORTCODE_JOBS_RESCAN_EVERY="1",
                  SHORTCODE_SCHEDULE_OUTBOX_RESCAN="every 1s", **UNGATED)
    upgrade(stack.env["SHORTCODE_DATABASE_URL"])
    stack.db = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    try:
        stack.start("gateway", "gateway")
        stack.start("web", "serve")
        stack.start("scheduler", "scheduler")  # queues the outbox re-scan, through the restart
        await wait_http(stack.gateway + "/control/stats")
        await wait_http(stack.web + "/healthz")
        yield stack
    finally:
        stack.stop()
        stack.db.dispose()


async def test_redis_restarted_mid_outbox_batch_every_message_is_accepted_exactly_once(outbox_stack, own_redis):
    """Redis SIGKILLed and restarted empty while a worker sends 1,500 outbox rows (the RQ queue is lost):
    the worker outlives the outage, every row ends sent, and the gateway accepted each row id exactly once."""
    stack = outbox_stack
    now = datetime.now(timezone.utc)
    with stack.db.begin() as conn:
        for i in range(1500):
            outbox.add(conn, f"+86139{i:08d}", f"Your bill is due, reminder {i}", f"campaign:{i}", now, "reminder")
    with stack.db.connect() as conn:
        ids = list(conn.execute(select(O.c.id).order_by(O.c.id)).scalars())
    assert len(ids) == 1500
    # the sender submits a job's 500 messages in one gateway request: a slow request keeps the kill mid-sending
    await gateway(stack, "/control/faults", {"latency_ms": 700})
    outbox.enqueue(Queue(stack.env["SHORTCODE_JOBS_QUEUE"], connection=own_redis.client()), ids)
    stack.start("worker", "worker")

    async def some_accepted():
        return (await gateway(stack, "/control/stats"))["accepted"] >= 500
    await eventually(some_accepted, timeout=20)
    own_redis.kill()
    at_kill = (await gateway(stack, "/control/stats"))["accepted"]
    own_redis.start()
    with own_redis.client() as fresh:  # the batches queued are lost (the scheduler may have queued a re-scan)
        left = Queue(stack.env["SHORTCODE_JOBS_QUEUE"], connection=fresh).jobs
        assert not [job for job in left if job.func_name != "jobs.outbox.rescan"]
    assert 500 <= at_kill < 1500, "the restart must land in the middle of the sending"

    def statuses() -> dict[str, int]:
        with stack.db.connect() as conn:
            return dict(conn.execute(select(O.c.status, func.count()).group_by(O.c.status)).all())

    def all_sent() -> bool:  # by the same worker: nothing here restarts it
        assert stack.procs["worker"].poll() is None, "the worker died with its Redis"
        return statuses() == {"sent": 1500}

    await eventually(all_sent, timeout=30, every=0.2)
    stats = await gateway(stack, "/control/stats")
    print(f"\nrestart at {at_kill} accepted; submits {stats['submits']}")
    assert stats["accepted"] == 1500
    assert sorted(map(int, stats["per_reference"])) == ids
    assert set(stats["per_reference"].values()) == {1}
    with stack.db.connect() as conn:  # each row records the message id the gateway gave its reference
        recorded = dict(conn.execute(select(O.c.id, O.c.gateway_message_id)).all())
    assert recorded == {int(m["reference"]): m["id"] for m in stats["messages"]}


# -- 3. a slow Redis -----------------------------------------------------------------------------
async def test_slow_redis_hop_answers_within_the_reply_timeout_and_hops_work_again_when_it_recovers(
        slow_link, settings_with, serve, db):
    """With every chunk to Redis held 3 s, hops (mid-session and new dials) get a CON screen or an END
    apology within the 1.5 s reply timeout; with Redis fast again, new hops get their own screens."""
    timeout = 1.5
    settings = settings_with(redis_url=slow_link.url, ussd_reply_timeout=timeout)
    base = await serve(settings)
    sorry = apologies(settings)
    mid, new, later = ["+8613800000001", "+8613800000002"], ["+8613800000003", "+8613800000004"], \
        ["+8613800000005", "+8613800000006", "+8613800000007", "+8613800000008"]
    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        screens = {m: await baseline(http, base, m, POINTS) for m in mid + new + later}
        for m in mid:
            assert (await hop(http, base, m, f"live-{m}", [])).text == screens[m][0]

        slow_link.slow = True
        answers = await asyncio.gather(*(hop(http, base, m, f"live-{m}", POINTS[:1]) for m in mid),
                                       *(hop(http, base, m, f"live-{m}", []) for m in new))
        for m, a in zip(mid + new, answers):
            expected = screens[m][1] if m in mid else screens[m][0]
            assert a.status == 200 and a.text in {expected, *sorry}, (m, a)
            assert a.seconds < timeout + 1.0, (m, a)
        assert slow_link.delayed >= 1  # the hops' commands went together (bot/pipelined.py) and were held
        assert all(a.text in sorry for a in answers)  # each hop did wait on Redis past its timeout

        slow_link.slow = False
        await eventually(lambda: slow_link.held == 0, timeout=10)
        for step in range(3):
            answers = await asyncio.gather(*(hop(http, base, m, f"after-{m}", POINTS[:step]) for m in later))
            for m, a in zip(later, answers):
                assert (a.status, a.text) == (200, screens[m][step]), (m, a)
                assert a.seconds < timeout, (m, a)


async def test_slow_redis_a_timed_out_hop_does_not_lock_the_subscriber_out(slow_link, own_redis, settings_with,
                                                                           serve, db):
    """A hop timed out on a slow Redis leaves no lock behind: once Redis is fast again, the same
    subscriber's next dial gets the main menu within a few seconds, not after the 30 s lock TTL."""
    timeout = 1.5
    settings = settings_with(redis_url=slow_link.url, ussd_reply_timeout=timeout)
    base = await serve(settings)
    sorry = apologies(settings)
    me = "+8613800000009"
    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        menu = (await baseline(http, base, me, ACCOUNT))[0]
        slow_link.slow = True
        late = await hop(http, base, me, "slow-dial", [])
        assert late.text in sorry and late.seconds < timeout + 1.0, late
        slow_link.slow = False
        await eventually(lambda: slow_link.held == 0, timeout=10)  # what was on its way reached Redis

        deadline = time.monotonic() + 6
        while True:
            a = await hop(http, base, me, f"redial-{time.monotonic()}", [])
            if a.text == menu or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        with own_redis.client() as direct:
            lock_ttl = direct.pttl(f"{settings.redis.prefix}lock:{{{me}}}")
        assert a.text == menu, f"still refused ({a.text!r}); the lock key has {lock_ttl} ms to live"


async def test_redis_stalling_between_lock_and_save_still_answers_within_the_reply_timeout(
        slow_link, settings_with, serve, db):
    """Redis turns slow right when a hop saves its session (the lock is already taken): the hop still
    gets its answer within the 1.5 s reply timeout, not one slow Redis round trip later."""
    timeout = 1.5
    settings = settings_with(redis_url=slow_link.url, ussd_reply_timeout=timeout)
    base = await serve(settings)
    sorry = apologies(settings)
    me = "+8613800000010"
    async with ClientSession(timeout=ClientTimeout(total=HANG)) as http:
        screens = await baseline(http, base, me, POINTS)
        assert (await hop(http, base, me, "live", [])).text == screens[0]
        slow_link.slow_from = hashlib.sha1(_SAVE.encode()).hexdigest().encode()  # EVALSHA of the save script
        try:
            a = await asyncio.wait_for(hop(http, base, me, "live", POINTS[:1]), timeout + 2.5)
        except TimeoutError:
            pytest.fail(f"no answer {timeout + 2.5} s after a hop with a {timeout} s reply timeout")
        assert slow_link.slow, "the save never went by"
        assert a.status == 200 and a.text in {screens[1], *sorry}, a
        assert a.seconds < timeout + 1.0, a
