"""Sessions in a real Redis: lock, versioned writes, round trips and memory per idle session."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aredis

from bot.engine.session import Session
from bot.store import Busy, SessionStore, StaleSession

MSISDN = "+8613800000001"


@pytest.fixture
async def store(redis_url, settings):
    client = aredis.Redis.from_url(redis_url)
    yield SessionStore(client, settings.redis.prefix, ttl_s=600, lock_ttl_ms=2000, lock_wait_ms=200)
    keys = await client.keys(f"{settings.redis.prefix}*")
    if keys:
        await client.delete(*keys)
    await client.aclose()


def fresh(**kw) -> Session:
    base = dict(msisdn=MSISDN, ref="r1", flow="menu", state="main", lang="zh_Hans", updated=1700000000.0)
    return Session(**{**base, **kw})


async def test_save_then_acquire_reads_what_was_written(store):
    held = await store.acquire(MSISDN)
    assert held.session is None
    saved = await store.save(held, fresh(values={"course": 2}))
    assert saved.version == 1
    again = await store.acquire(MSISDN)
    assert again.session == saved
    await store.release(again)


async def test_second_acquire_waits_then_reports_busy(store):
    held = await store.acquire(MSISDN)
    with pytest.raises(Busy):
        await store.acquire(MSISDN)
    await store.release(held)
    (await store.acquire(MSISDN))  # free again


async def test_waiting_acquire_gets_the_lock_when_released(store):
    held = await store.acquire(MSISDN)

    async def later():
        await asyncio.sleep(0.05)
        await store.save(held, fresh())

    _, second = await asyncio.gather(later(), store.acquire(MSISDN))
    assert second.session.version == 1


async def test_stale_write_is_refused(store):
    """A turn whose lock expired must not overwrite a newer session written by another turn."""
    first = await store.acquire(MSISDN)
    await store.redis.delete(store.keys(MSISDN)[0])  # the lock expires while the first turn is slow
    second = await store.acquire(MSISDN)
    await store.save(second, fresh(state="second"))
    with pytest.raises(StaleSession):
        await store.save(first, fresh(state="first"))
    assert (await store.peek(MSISDN)).state == "second"


async def test_a_turn_takes_two_round_trips(store, monkeypatch):
    calls = []
    original = store.redis.evalsha

    async def counting(*args, **kw):
        calls.append(args[0])
        return await original(*args, **kw)

    monkeypatch.setattr(store.redis, "evalsha", counting)
    held = await store.acquire(MSISDN)
    await store.save(held, fresh())
    assert len(calls) == 2


async def test_session_key_has_the_configured_ttl(store):
    held = await store.acquire(MSISDN)
    await store.save(held, fresh())
    ttl = await store.redis.ttl(store.keys(MSISDN)[1])
    assert 590 <= ttl <= 600
    assert not await store.redis.exists(store.keys(MSISDN)[0])  # lock released


async def test_memory_per_idle_session_is_small(store):
    """A typical mid-flow session costs well under the 700-byte target in Redis."""
    deep = fresh(values={"course": 2, "date": "2026-11-24", "slot": 17}, stack=(("menu", "main"), ("golf", "course")),
                 hops=4, flow="golf", state="players")
    held = await store.acquire(MSISDN)
    await store.save(held, deep)
    used = await store.redis.memory_usage(store.keys(MSISDN)[1])
    print(f"memory per idle session: {used} bytes")
    assert used < 700
