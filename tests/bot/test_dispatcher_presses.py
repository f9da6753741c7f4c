"""A button press carries the hop its menu was drawn at: applied only when the session is still there,
checked under the session lock; an expired press changes nothing and saves nothing."""
from __future__ import annotations

import redis.asyncio as aredis

from bot.dispatcher import Inbound
from bot.wiring import build_dispatcher

MSISDN = "+8613800000011"


async def test_a_press_at_the_current_hop_is_applied(core, db, redis_url):
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db, channel="telegram")
    await d.handle(Inbound("telegram", MSISDN, "telegram", None, 10, start=core.menus.root))
    reply = await d.handle(Inbound("telegram", MSISDN, "telegram", "1", 11, expect_hop=10))
    assert not reply.expired and (await d.store.peek(d.channel.session_key(MSISDN))).hops == 11
    await client.aclose()


async def test_a_press_on_an_older_menu_is_expired_and_leaves_the_session_as_it_was(core, db, redis_url):
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db, channel="telegram")
    key = d.channel.session_key(MSISDN)
    await d.handle(Inbound("telegram", MSISDN, "telegram", None, 10, start=core.menus.root))
    await d.handle(Inbound("telegram", MSISDN, "telegram", "1", 11, expect_hop=10))
    before = await d.store.peek(key)
    reply = await d.handle(Inbound("telegram", MSISDN, "telegram", "2", 12, expect_hop=10))
    assert reply.expired and reply.text == "" and reply.lang == "en"
    after = await d.store.peek(key)
    assert after == before and (await d.store.peek(key)).hops == 11
    await client.aclose()


async def test_a_press_with_no_session_is_expired(core, db, redis_url):
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db, channel="telegram")
    reply = await d.handle(Inbound("telegram", MSISDN, "telegram", "1", 5, expect_hop=4))
    assert reply.expired and await d.store.peek(d.channel.session_key(MSISDN)) is None
    await client.aclose()
