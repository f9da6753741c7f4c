"""The web process killed right after acknowledging inbound SMS: every acknowledged message is answered
after a restart (the inbox re-scan), and none twice."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession
from sqlalchemy import create_engine, func, select

from bot.models import SmsInbox
from jobs.tables import Outbox
from tests.processes import Stack, bring_up, eventually

I, O = SmsInbox.__table__, Outbox.__table__


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url, SHORTCODE_JOBS_RESCAN_EVERY="1", SHORTCODE_SCHEDULE_OUTBOX_RESCAN="every 1s")
    await bring_up(stack, 300)
    stack.start("scheduler", "scheduler")  # queues the outbox re-scan: rows a killed serve never queued
    stack.db = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    yield stack
    stack.stop()
    stack.db.dispose()


def counts(stack: Stack) -> tuple[int, int]:
    with stack.db.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(I)).scalar_one()
        answered = conn.execute(select(func.count()).select_from(I).where(I.c.processed_at.is_not(None))).scalar_one()
    return stored, answered


async def test_messages_acknowledged_before_a_sigkill_are_all_answered_after_the_restart(stack):
    numbers = [f"+86138{n:08d}" for n in range(1, 201)]
    async with ClientSession() as http:
        async def text(number: str) -> None:
            async with http.post(stack.gateway + "/control/inbound",
                                 json={"from": number, "to": "12580", "text": "BAL"}) as r:
                assert r.status == 200

        await asyncio.gather(*[text(n) for n in numbers])  # each returns once our 200 reached the gateway
    stack.kill("web")
    stored, answered = counts(stack)
    assert stored == 200 and answered < 200, "the kill must leave acknowledged messages unanswered"
    stack.start("web", "serve")
    await eventually(lambda: counts(stack) == (200, 200), timeout=60)
    with stack.db.connect() as conn:
        replies = conn.execute(select(O.c.cause)).scalars().all()
    assert len(replies) == len(set(replies)) == 200 and all(c.startswith("sms-in:") for c in replies)

    async def delivered() -> bool:
        async with ClientSession() as http:
            async with http.get(stack.gateway + "/control/stats") as r:
                stats = await r.json()
        return sorted(m["to"] for m in stats["messages"]) == sorted(numbers)

    await eventually(delivered, timeout=60)
