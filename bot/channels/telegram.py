"""Telegram over HTTP: the Bot API's webhook. The secret header is checked in constant time; an update is
stored in the inbox and committed before Telegram gets its 200, so an acknowledged update is never lost;
a redelivery is recognised by (bot, update_id) and changes nothing."""
from __future__ import annotations

import asyncio
import hmac
from datetime import datetime, timezone
from typing import Callable

import structlog
import telegram
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.channels.forms import BadRequest
from bot.channels.telegram_inbox import store
from bot.channels.telegram_updates import parse, to_row
from integrations.telegram import SECRET_HEADER

log = structlog.get_logger()


class TelegramChannel:
    def __init__(self, db: Engine, secret: str, bot: telegram.Bot | None, bot_id: str,
                 on_stored: Callable[[int], None] | None = None) -> None:
        self.db = db
        self.secret = secret  # empty: every delivery is refused (nothing protects the route)
        self.bot = bot  # lent to PTB's parser only: parsing never calls the network
        self.bot_id = bot_id
        self.on_stored = on_stored  # hands the stored update on for processing (its inbox id only)

    def _authentic(self, request: web.Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "")
        return bool(self.secret) and hmac.compare_digest(given.encode(), self.secret.encode())

    async def webhook(self, request: web.Request) -> web.Response:
        if not self._authentic(request):
            return web.Response(status=403, text="forbidden: missing or wrong secret token")
        body = await request.read()  # over [http] max_body_bytes: aiohttp answers 413
        try:
            row = to_row(parse(body, self.bot), self.bot_id, datetime.now(timezone.utc))
        except BadRequest as exc:
            return web.Response(status=400, text=f"bad request: {exc}")
        structlog.contextvars.bind_contextvars(channel="telegram", session=str(row.update_id))
        inbox_id = await asyncio.to_thread(store, self.db, row)
        if inbox_id is None:
            log.info("telegram_update_duplicate")
            return web.Response(text="OK (duplicate)")
        log.info("telegram_update_stored", inbox=inbox_id, kind=row.kind)
        if self.on_stored:
            self.on_stored(inbox_id)
        return web.Response(text="OK")
