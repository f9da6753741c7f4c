"""Telegram by long polling (getUpdates), for development without a public URL. The offset is kept
durably as the inbox itself: one past the highest update stored for this bot, so a restart replays
nothing already stored, and an update stored but not answered is answered by the same chat."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Awaitable, Callable

import asyncio
import warnings

import structlog
import telegram
from sqlalchemy.engine import Engine
from telegram.warnings import PTBUserWarning

from bot.channels.forms import BadRequest
from bot.channels.telegram_inbox import next_offset, store
from bot.channels.telegram_updates import from_json, to_row
from bot.models import TelegramInbox

log = structlog.get_logger()
ALLOWED = ["message", "callback_query", "my_chat_member"]


async def poll_once(db: Engine, bot: telegram.Bot, bot_id: str, process: Callable[[int], Awaitable[bool]],
                    timeout: int = 25) -> int:
    """One getUpdates round: store each update (committed before the next offset acknowledges it), then
    answer it; how many were new."""
    offset = await asyncio.to_thread(next_offset, db, bot_id)
    # the raw items, each parsed on its own as the webhook parses a body: PTB's get_updates fails the whole
    # batch on one update it cannot read, and the poller would fetch that batch again for ever
    with warnings.catch_warnings():  # PTB's advice to use get_updates instead does not apply here
        warnings.simplefilter("ignore", PTBUserWarning)
        items = await bot.do_api_request("getUpdates", api_kwargs={"offset": offset, "timeout": timeout,
                                                                   "allowed_updates": ALLOWED},
                                         read_timeout=timeout + 10)
    new = 0
    for item in items if isinstance(items, list) else []:
        row = _row(item, bot, bot_id)
        inbox_id = await asyncio.to_thread(store, db, row) if row is not None else None
        if inbox_id is not None:
            new += 1
            await process(inbox_id)
    log.info("telegram_polled", updates=len(items), new=new)
    return new


def _row(item: object, bot: telegram.Bot, bot_id: str) -> TelegramInbox | None:
    """The inbox row of one getUpdates item. One that is not an update we can read is stored as `other`
    under its update_id (nobody answers it), so the offset moves past it; None without an update_id."""
    now = datetime.now(timezone.utc)
    try:
        return to_row(from_json(item, bot), bot_id, now)  # type: ignore[arg-type]
    except BadRequest:
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return None
        log.warning("telegram_update_unreadable", update_id=update_id)
        return TelegramInbox(bot=bot_id, update_id=update_id, user_id=0, chat_id=0, kind="other", received_at=now)


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
