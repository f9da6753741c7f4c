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


def count_round_trips(store, monkeypatch) -> list[int]:
    """The commands of each pipeline the store sends (one pipeline, one round trip)."""
    sent, pipeline = [], store.redis.pipeline

    def counting(*args, **kw):
        pipe = pipeline(*args, **kw)
        execute = pipe.execute

        async def counted(*a, **k):
            sent.append(len(pipe.command_stack))
            return await execute(*a, **k)
        pipe.execute = counted
        return pipe

    monkeypatch.setattr(store.redis, "pipeline", counting)
    return sent


async def test_a_turn_takes_two_round_trips(store, monkeypatch):
    await store.save(await store.acquire("+8613900000000"), fresh())  # Redis knows the scripts now
    sent = count_round_trips(store, monkeypatch)
    held = await store.acquire(MSISDN)
    await store.save(held, fresh())
    assert sent == [1, 1]


async def test_concurrent_turns_share_their_round_trips(store, monkeypatch):
    """Twenty subscribers' turns at the same moment: their locks and saves go in a few pipelines, and
    each turn still gets its own session."""
    await store.save(await store.acquire("+8613900000000"), fresh())
    sent = count_round_trips(store, monkeypatch)
    numbers = [f"+86139000001{n:02d}" for n in range(20)]

    async def turn(msisdn: str) -> None:
        held = await store.acquire(msisdn)
        await store.save(held, fresh(state=msisdn))

    await asyncio.gather(*[turn(n) for n in numbers])
    assert sum(sent) == 40 and len(sent) <= 4
    assert [(await store.peek(n)).state for n in numbers] == numbers


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
