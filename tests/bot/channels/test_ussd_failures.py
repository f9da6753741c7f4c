"""A failing or slow dependency still gets the handset a polite END well inside the gateway's deadline."""
from __future__ import annotations

import time

import redis.asyncio as aredis
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.store import SessionStore
from bot.web import make_app
from bot.wiring import build_core
from tests.conftest import free_port

FORM = {"sessionId": "f1", "serviceCode": "*126#", "phoneNumber": "+8613800000001", "text": ""}
APOLOGY = "END 抱歉，服务繁忙，请稍后再拨。"


async def post(core, form=FORM):
    server = TestServer(make_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as http:
            started = time.monotonic()
            async with http.post(f"http://127.0.0.1:{server.port}/ussd/africastalking?key=test-secret",
                                 data=form) as r:
                return r.status, await r.text(), time.monotonic() - started
    finally:
        await server.close()



async def test_redis_down_gives_an_end_apology(settings_with, db):
    core = build_core(settings_with(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    status, body, took = await post(core)
    assert status == 200 and body == APOLOGY and took < 10


async def test_slow_turn_is_cut_at_the_reply_timeout(settings_with, db, redis_url):
    """The subscriber's lock is held elsewhere for longer than the reply timeout: END, not a hang."""
    s = settings_with(ussd_reply_timeout=0.5, session_lock_wait_ms=5000)
    client = aredis.Redis.from_url(redis_url)
    held = await SessionStore(client, s.redis.prefix).acquire("{+8613800000001}")
    status, body, took = await post(build_core(s))
    await client.aclose()
    assert status == 200 and body == APOLOGY and 0.4 < took < 3
    assert held.session is None


async def test_busy_subscriber_gets_an_end_apology(settings_with, db, redis_url):
    s = settings_with(session_lock_wait_ms=100)
    client = aredis.Redis.from_url(redis_url)
    await SessionStore(client, s.redis.prefix).acquire("{+8613800000001}")
    status, body, took = await post(build_core(s))
    await client.aclose()
    assert status == 200 and body == APOLOGY and took < 3


async def test_the_apology_is_in_the_subscribers_language_when_redis_is_down(settings_with, db):
    """Redis down: no session to read, but the profile says English, so the END apology is English."""
    core = build_core(settings_with(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    status, body, _ = await post(core, {**FORM, "phoneNumber": "+8613800000009"})
    assert (status, body) == (200, "END Sorry, the service is busy. Please dial again in a moment.")


async def test_a_busy_subscriber_gets_the_apology_in_the_language_of_their_session(settings_with, db, redis_url):
    """The lock is held by another turn; the session (read without the lock) says English."""
    from bot.engine.session import Session

    s = settings_with(session_lock_wait_ms=100)
    client = aredis.Redis.from_url(redis_url)
    store = SessionStore(client, s.redis.prefix)
    held = await store.acquire("{+8613800000001}")  # a Chinese profile, who switched to English in the session
    await store.save(held, Session("+8613800000001", "earlier", "menu", "main", "en", time.time(), tier="gold"))
    await store.acquire("{+8613800000001}")
    status, body, _ = await post(build_core(s))
    await client.aclose()
    assert (status, body) == (200, "END Sorry, the service is busy. Please dial again in a moment.")
