"""An embedded environment in one process: in-memory Redis and the configured database."""
from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime
from typing import AsyncIterator, Callable

from bot.db import make_engine, upgrade
from bot.dispatcher import Dispatcher, utcnow
from bot.redisconn import connect
from bot.seed import seed_demo
from bot.wiring import Core, build_dispatcher


@asynccontextmanager
async def local_dispatcher(core: Core, clock: Callable[[], datetime] = utcnow,
                           redis_url: str = "embedded") -> AsyncIterator[Dispatcher]:
    """A dispatcher on the configured database (migrated, seeded if empty) and its own store."""
    url = core.settings.database_url
    upgrade(url)
    db = make_engine(url)
    seed_demo(db, if_empty=True)
    pair = connect(redis_url)
    try:
        yield build_dispatcher(core, pair.aio, db, clock)
    finally:
        await pair.close()
        db.dispose()
