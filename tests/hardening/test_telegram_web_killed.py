"""The web process killed right after acknowledging Telegram webhook deliveries (each delivered twice at
once, as Telegram may): every acknowledged update is answered after a restart (the inbox re-scan), and
none twice (the inbox's unique update, the outbox's unique `cause`)."""
from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiohttp import ClientSession
from sqlalchemy import create_engine, func, select

from bot.models import TelegramInbox, TelegramLink
from jobs.tables import TelegramOutbox
from tests.processes import Stack, bring_up_telegram, eventually, telegram_api, telegram_env

I, L, O = TelegramInbox.__table__, TelegramLink.__table__, TelegramOutbox.__table__
USERS = {7100000 + n: f"+86138{n:08d}" for n in range(1, 41)}  # 40 demo subscribers
MENUS = 5  # "/menu" per user: 200 updates


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url, SHORTCODE_JOBS_RESCAN_EVERY="1", SHORTCODE_SCHEDULE_OUTBOX_RESCAN="every 1s",
                  SHORTCODE_SCHEDULE_TELEGRAM_RESCAN="every 1s", **telegram_env())
    await bring_up_telegram(stack, 100)
    stack.start("scheduler", "scheduler")  # queues the outbox re-scans: rows a killed serve never queued
    stack.db = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    yield stack
    stack.stop()
    stack.db.dispose()


def scalar(stack: Stack, query) -> int:
    with stack.db.connect() as conn:
        return conn.execute(query).scalar_one()


def inbox(stack: Stack) -> tuple[int, int]:
    """Updates stored, and of those answered."""
    return (scalar(stack, select(func.count()).select_from(I)),
            scalar(stack, select(func.count()).select_from(I).where(I.c.processed_at.is_not(None))))


def all_sent(stack: Stack) -> bool:
    return scalar(stack, select(func.count()).select_from(O).where(O.c.status != "sent")) == 0


async def control(http: ClientSession, stack: Stack, path: str, body: dict | None = None) -> dict:
    url = f"{telegram_api(stack)}/control/{path}"
    async with (http.post(url, json=body) if body is not None else http.get(url)) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def bot_messages(http: ClientSession, stack: Stack) -> Counter:
    """The bot's messages per chat, as the simulated Telegram holds them."""
    counts = Counter()
    for user in USERS:
        chat = await control(http, stack, f"chats/{user}")
        counts[user] = sum(m["sender"] == "bot" for m in chat["messages"])
    return counts


async def test_updates_acknowledged_before_a_sigkill_are_all_answered_once_after_the_restart(stack):
    async with ClientSession() as http:
        await asyncio.gather(*[control(http, stack, "contact", {"user_id": u, "phone_number": p})
                               for u, p in USERS.items()])
        await eventually(lambda: scalar(stack, select(func.count()).select_from(L)) == len(USERS), timeout=60)
        await eventually(lambda: inbox(stack)[1] == len(USERS) and all_sent(stack), timeout=120)
        linked = await bot_messages(http, stack)
        first = scalar(stack, select(func.max(I.c.update_id)))
        await control(http, stack, "faults", {"duplicate_updates": 2, "duplicate_concurrently": True})

        rounds = 0
        for _ in range(3):  # the kill must land while acknowledged updates wait: try again if it did not
            rounds += 1
            for _ in range(MENUS):
                await asyncio.gather(*[control(http, stack, "text", {"user_id": u, "text": "/menu"}) for u in USERS])

            async def acknowledged() -> bool:
                deliveries = (await control(http, stack, "stats"))["deliveries"]
                return sum(d["delivered"] == 2 for i, d in deliveries.items()
                           if int(i) > first) == len(USERS) * MENUS * rounds

            await eventually(acknowledged, timeout=60, every=0.01)
            stack.kill("web")
            stored, answered = inbox(stack)
            assert stored == len(USERS) * (MENUS * rounds + 1), "every acknowledged update is stored"
            stack.start("web", "serve")
            await eventually(lambda: inbox(stack) == (stored, stored) and all_sent(stack), timeout=180)
            if answered < stored:
                break  # the kill left acknowledged updates unanswered, and the restart answered them
        assert answered < stored, "in three tries the kill never left an acknowledged update unanswered"
        with stack.db.connect() as conn:
            causes = conn.execute(select(O.c.cause).where(O.c.cause.like("tg-in:%"))).scalars().all()
        assert len(causes) == len(set(causes))
        assert await bot_messages(http, stack) == Counter({u: linked[u] + MENUS * rounds for u in USERS})
        stats = await control(http, stack, "stats")
        assert not stats["dropped_updates"] and stats["pending_updates"] == 0
