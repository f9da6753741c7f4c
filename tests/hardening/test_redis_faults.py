"""Hardening: Redis killed and restarted empty, or slow, under the USSD path and the outbox.

Every Redis here is a real redis-server of the test's own (free port, no persistence), killed and
restarted by PID; a slow Redis is that server behind a small TCP proxy holding each chunk sent to it.
"""
from __future__ import annotations

import asyncio
import hashlib
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
from aiohttp import ClientSession, ClientTimeout
from rq import Queue
from sqlalchemy import create_engine, func, select

from bot.db import upgrade
from bot.dispatcher import APOLOGY
from bot.session import loads
from bot.store import _SAVE
from bot.wiring import build_core
from integrations.boss.tables import BossAccount
from jobs import outbox
from jobs.tables import Outbox
from tests.conftest import free_port
from tests.processes import Stack, eventually, wait_http

SECRET = "test-secret"
O = Outbox.__table__
HANG = 15  # client-side cap: a hop slower than this is a hang, reported as such


# -- a redis-server of our own -------------------------------------------------------------------
class RedisServer:
    """A redis-server on a fixed free port, SIGKILLed and started again (empty) by PID."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on port {self.port} did not answer in {timeout} s")
            time.sleep(0.02)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no save, no goodbye to the clients."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


@pytest.fixture
def own_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed")
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


# -- a slow link to Redis ------------------------------------------------------------------------
class SlowProxy:
    """TCP proxy to a Redis server; while `slow`, each chunk going to Redis is held `delay` seconds
    (then delivered, as a slow network delivers it). `slow_from` switches slowness on when a chunk
    holding those bytes goes by."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.slow = False
        self.slow_from: bytes | None = None
        self.held = 0  # chunks held right now
        self.tasks: set[asyncio.Task] = set()
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            redis_r, redis_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        for pump in (self._pump(client_r, redis_w, to_redis=True), self._pump(redis_r, client_w, to_redis=False)):
            task = asyncio.create_task(pump)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, to_redis: bool) -> None:
        try:
            while data := await reader.read(65536):
                if to_redis:
                    if self.slow_from is not None and self.slow_from in data:
                        self.slow = True
                    if self.slow:
                        self.held += 1
                        try:
                            await asyncio.sleep(self.delay)
                        finally:
                            self.held -= 1
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


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
        flown = await in_flight; print("\nINFLIGHT", sum(a.text.startswith("CON") for a in flown), max(a.seconds for a in flown))
        for m, a in zip(numbers, flown):
            assert (a.status == 200 and a.text in {screens[m][2], *sorry}) or 400 <= a.status < 500, (m, a)
            assert a.seconds < timeout + 1.5, a

        retried = {m: [*paths[m], paths[m][-1]] for m in numbers}  # the subscriber sends the last input again
        down = await asyncio.gather(*(walk(m, retried[m]) for m in numbers),
                                    *(hop(http, base, m, f"new-{m}", []) for m in newcomers))
        for a in down:  # Redis down: a prompt apology (or a 4xx), never a 5xx or a hang
            assert (a.status == 200 and a.text in sorry) or 400 <= a.status < 500, a
            assert a.seconds < timeout + 1.5, a

        own_redis.start()
        assert own_redis.client().dbsize() == 0  # the sessions are gone

        again = await asyncio.gather(*(walk(m, [*retried[m], "1"]) for m in numbers))
        for m, a in zip(numbers, again):  # the session is gone: it restarts at the main menu, politely
            assert (a.status, a.text) == (200, screens[m][0]), (m, a)
            assert a.seconds < timeout + 1.5, a
        for i in range(2):
            answers = await asyncio.gather(*(walk(m, [*retried[m], "1", *paths[m][:i + 1]]) for m in numbers))
            for m, a in zip(numbers, answers):  # the subscriber's own screens, never a neighbour's
                assert (a.status, a.text) == (200, screens[m][i + 1]), (m, a)

    stored = own_redis.client()
    for m in numbers:
        raw = stored.get(f"{settings.redis.prefix}s:{m}")
        session = loads(raw.decode().split("|", 1)[1])
        assert (session.msisdn, session.ref, session.hops) == (m, f"live-{m}", len(retried[m]) + 1 + len(paths[m]))
