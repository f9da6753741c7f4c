"""A `serve` SIGKILLed mid-hop leaves its subscriber's lock behind. With the default settings the lock lives
just past the hop deadline: the subscriber's dial a little after it gets the menu, and a dial before it
gets the busy apology in the subscriber's own language."""
from __future__ import annotations

import asyncio
import hashlib
import time

import pytest
from aiohttp import ClientSession, ClientTimeout

from bot.settings import load_settings
from bot.store import _ACQUIRE
from tests.hardening.redis_server import SlowProxy
from tests.conftest import free_port
from tests.processes import ROOT, Stack, bring_up, eventually, wait_http

ME = "+8613800000009"  # an English subscriber (bot/tools/seed.py)
SECRET = "test-secret"
BUSY_EN = "END Sorry, the service is busy. Please dial again in a moment."


async def dial(http: ClientSession, base: str, ref: str) -> str:
    async with http.post(f"{base}/ussd/africastalking", params={"key": SECRET},
                         data={"sessionId": ref, "serviceCode": "*126#", "phoneNumber": ME, "networkCode": "46000",
                               "text": ""}) as r:
        assert r.status == 200
        return await r.text()


@pytest.fixture
async def link(own_redis):
    proxy = SlowProxy(own_redis.port, delay=1.0)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def stack(tmp_path, own_redis, link):
    """Two web processes on one Redis, as behind a load balancer; the first reaches Redis through `link`."""
    stack = Stack(tmp_path, own_redis.url, SHORTCODE_USSD_SECRET=SECRET)
    stack.web2 = f"http://127.0.0.1:{free_port()}"
    await bring_up(stack, 20, worker=False)  # starts "web" on Redis directly: replaced below
    stack.kill("web")
    stack.start("web", "serve", SHORTCODE_REDIS_URL=link.url)
    stack.start("web2", "serve", "--port", stack.web2.rsplit(":", 1)[1])
    await wait_http(stack.web + "/healthz")
    await wait_http(stack.web2 + "/healthz")
    try:
        yield stack
    finally:
        stack.stop()


async def test_a_subscriber_whose_hop_died_with_its_process_gets_the_menu_after_the_hop_deadline(
        stack, own_redis, link):
    defaults = load_settings(ROOT / "config.toml", environ={})
    deadline = defaults.ussd.reply_timeout  # the default settings: the ones a crash meets in production
    async with ClientSession(timeout=ClientTimeout(total=30)) as http:
        menu = await dial(http, stack.web, "warm-up")  # loads the scripts: the next acquire is one EVALSHA
        assert menu.startswith("CON ") and "Sorry" not in menu
        link.slow_from = hashlib.sha1(_ACQUIRE.encode()).hexdigest().encode()
        started = time.monotonic()
        in_flight = asyncio.create_task(dial(http, stack.web, "doomed"))
        await eventually(lambda: link.held > 0, timeout=10)  # the lock is on its way to Redis
        stack.kill("web")  # SIGKILL mid-hop: nobody will release that lock
        await asyncio.gather(in_flight, return_exceptions=True)
        await eventually(lambda: link.held == 0, timeout=10)
        with own_redis.client() as direct:
            assert direct.pttl(f"{stack.env['SHORTCODE_REDIS_PREFIX']}lock:{{{ME}}}") > 0, "the lock was not taken"

        too_soon = await dial(http, stack.web2, "too-soon")  # held: the apology, in English
        await asyncio.sleep(max(0.0, started + deadline + 1 - time.monotonic()))
        after = await dial(http, stack.web2, "after-deadline")
    assert (too_soon, after) == (BUSY_EN, menu)
