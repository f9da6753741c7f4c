"""`shortcode telegram poll | set-webhook URL | set-commands`: the bot's side of Telegram, for operators."""
from __future__ import annotations

import argparse
import sys

from bot.settings import Settings


def cmd_telegram(args: argparse.Namespace, settings: Settings) -> int:
    """`telegram poll` (getUpdates into the inbox, answered by the same chat), `telegram set-webhook URL`
    (with the command menu) or `telegram set-commands`."""
    import asyncio

    import telegram

    from bot.logs import configure

    s = settings.telegram
    if not s.token:
        print("shortcode telegram: [telegram] token is empty; set SHORTCODE_TELEGRAM_TOKEN", file=sys.stderr)
        return 2
    configure(settings.log.level, fmt=settings.log.format)
    bot = telegram.Bot(s.token, base_url=s.api_url)
    try:
        if args.action == "set-webhook":
            if not s.secret_token:
                print("shortcode telegram: [telegram] secret_token is empty; set SHORTCODE_TELEGRAM_SECRET_TOKEN",
                      file=sys.stderr)
                return 2
        if args.action in ("set-webhook", "set-commands"):
            asyncio.run(_register(settings, bot, getattr(args, "url", None)))
            return 0
        asyncio.run(_poll(settings, bot))
    except KeyboardInterrupt:  # Ctrl-C ends polling quietly: what was stored is answered on the next run
        pass
    except telegram.error.TelegramError as exc:
        print(f"shortcode telegram: {_refusal(exc, s.token)}", file=sys.stderr)
        return 1
    return 0


def _refusal(exc: Exception, token: str) -> str:
    """The Bot API's refusal, the token left out: PTB's InvalidToken quotes it whole, and a traceback
    on stderr ends up in the journal."""
    import telegram

    said = f"{type(exc).__name__}: {getattr(exc, 'message', '')}".replace(token, "<token>")
    hint = "; check SHORTCODE_TELEGRAM_TOKEN" if isinstance(exc, telegram.error.InvalidToken) else ""
    return f"the Bot API refused the call ({said}){hint}"


async def _register(settings: Settings, bot, url: str | None) -> None:
    """The webhook (when `url` is given) and the command menu in Chinese and English ([service] language
    for other users)."""
    from bot.channels.telegram_commands import set_commands
    from bot.channels.telegram_poll import ALLOWED
    from bot.i18n import load_catalogs

    async with bot:
        if url:
            await bot.set_webhook(url, secret_token=settings.telegram.secret_token, allowed_updates=ALLOWED)
            print(f"webhook set to {url}")
        codes = await set_commands(bot, load_catalogs(settings.path(settings.paths.locale)), settings.service.language)
    print("commands set for language codes: " + ", ".join(c or "(default)" for c in codes))


async def _poll(settings: Settings, bot) -> None:
    from rq import Queue

    from bot.channels.telegram_outbound import TelegramOutbound
    from bot.channels.telegram_poll import poll
    from bot.channels.telegram_updates import bot_id
    from bot.db import make_engine
    from bot.redisconn import connect
    from bot.wiring import build_core, build_dispatcher, telegram_chat

    core, db = build_core(settings), make_engine(settings.database_url)
    redis = connect(settings.redis.url, settings.redis.max_connections)
    outbound = TelegramOutbound(Queue(settings.jobs.queue, connection=redis.sync))  # answers go to the workers
    chat = telegram_chat(core, build_dispatcher(core, redis.aio, db, channel="telegram"), db, outbound, redis.aio)
    async with bot:
        await bot.delete_webhook()  # getUpdates is refused while a webhook is set
        try:
            await poll(db, bot, bot_id(settings.telegram.token), chat.process)
        finally:
            await outbound.drain()
