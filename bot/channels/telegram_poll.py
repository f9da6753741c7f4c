"""Telegram by long polling (getUpdates), for development without a public URL. The offset is kept
durably as the inbox itself: one past the highest update stored for this bot, so a restart replays
nothing already stored, and an update stored but not answered is answered by the same chat."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Awaitable, Callable

import asyncio
import structlog
import telegram
from sqlalchemy.engine import Engine

from bot.channels.telegram_inbox import next_offset, store
from bot.channels.telegram_updates import to_row

log = structlog.get_logger()
ALLOWED = ["message", "callback_query", "my_chat_member"]


async def poll_once(db: Engine, bot: telegram.Bot, bot_id: str, process: Callable[[int], Awaitable[bool]],
                    timeout: int = 25) -> int:
    """One getUpdates round: store each update (committed before the next offset acknowledges it), then
    answer it; how many were new."""
    offset = await asyncio.to_thread(next_offset, db, bot_id)
    updates = await bot.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED)
    new = 0
    for update in updates:
        inbox_id = await asyncio.to_thread(store, db, to_row(update, bot_id, datetime.now(timezone.utc)))
        if inbox_id is not None:
            new += 1
            await process(inbox_id)
    log.info("telegram_polled", updates=len(updates), new=new)
    return new


async def poll(db: Engine, bot: telegram.Bot, bot_id: str, process: Callable[[int], Awaitable[bool]],
               timeout: int = 25) -> None:
    """Poll until cancelled; a failed round (network, 5xx, 429) waits a little and tries again."""
    while True:
        try:
            await poll_once(db, bot, bot_id, process, timeout)
        except telegram.error.RetryAfter as exc:
            await asyncio.sleep(float(getattr(exc.retry_after, "total_seconds", lambda: exc.retry_after)()))
        except telegram.error.TelegramError as exc:
            log.warning("telegram_poll_failed", error=type(exc).__name__)
            await asyncio.sleep(1)
