"""An embedded environment in one process: a dispatcher on the configured database, or on a scratch
database of its own, with its own in-memory Redis."""
from __future__ import annotations

import tempfile
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import AsyncIterator, Callable

from bot.db import make_engine, upgrade
from bot.dispatcher import Confirmations, Dispatcher, utcnow
from bot.redisconn import connect
from bot.tools.seed import seed_demo
from bot.wiring import Core, build_dispatcher


@asynccontextmanager
async def local_dispatcher(core: Core, clock: Callable[[], datetime] = utcnow, redis_url: str = "embedded",
                           confirmations: Confirmations | None = None, channel: str = "ussd"
                           ) -> AsyncIterator[Dispatcher]:
    """A dispatcher of `channel` on the configured database (migrated, seeded if empty) and its own store."""
    async with _dispatcher(core, core.settings.database_url, clock, redis_url, confirmations, channel) as dispatcher:
        yield dispatcher


@asynccontextmanager
async def scratch_dispatcher(core: Core, clock: Callable[[], datetime], redis_url: str = "embedded",
                             confirmations: Confirmations | None = None, channel: str = "ussd"
                             ) -> AsyncIterator[Dispatcher]:
    """A dispatcher on a fresh demo database and store, thrown away afterwards: a transcript replays
    alike every time and in any order, and never touches the development database. On a real Redis
    (tests) its keys get a prefix of their own."""
    if redis_url != "embedded":
        s = core.settings
        own = s.redis.model_copy(update={"prefix": f"{s.redis.prefix}scratch-{uuid.uuid4().hex[:8]}:"})
        core = replace(core, settings=s.model_copy(update={"redis": own}))
    with tempfile.TemporaryDirectory(prefix="shortcode-scratch-") as folder:
        async with _dispatcher(core, f"sqlite:///{folder}/scratch.db", clock, redis_url, confirmations,
                               channel) as dispatcher:
            yield dispatcher


@asynccontextmanager
async def _dispatcher(core: Core, url: str, clock: Callable[[], datetime], redis_url: str,
                      confirmations: Confirmations | None, channel: str) -> AsyncIterator[Dispatcher]:
    upgrade(url)
    db = make_engine(url)
    seed_demo(db, if_empty=True)
    pair = connect(redis_url)
    try:
        yield build_dispatcher(core, pair.aio, db, clock, channel=channel, confirmations=confirmations)
    finally:
        await pair.close()
        db.dispose()
