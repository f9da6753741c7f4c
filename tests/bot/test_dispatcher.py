"""The dispatcher acts on a turn's events only once the session it belongs to is saved."""
from __future__ import annotations

import redis.asyncio as aredis

from bot.dispatcher import Inbound
from bot.store import StaleSession
from bot.wiring import build_dispatcher

MSISDN = "+8613800000001"


async def test_language_change_of_a_refused_turn_is_not_applied(core, db, redis_url, monkeypatch):
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db)
    for n, text in enumerate([None, "1", "3"]):
        await d.handle(Inbound("ussd", MSISDN, "s", text, n, "*126#"))

    async def stale(held, session):
        await d.store.release(held)
        raise StaleSession(MSISDN)

    monkeypatch.setattr(d.store, "save", stale)
    refused = await d.handle(Inbound("ussd", MSISDN, "s", "2", 3, "*126#"))  # English
    assert refused.final and refused.text == "抱歉，服务繁忙，请稍后再拨。"
    assert d.subscribers.profile(MSISDN).lang == "zh_Hans"
    monkeypatch.undo()
    reply = await d.handle(Inbound("ussd", MSISDN, "s", "2", 3, "*126#"))
    assert reply.text.startswith("Done") and d.subscribers.profile(MSISDN).lang == "en"
    await client.aclose()
