"""The aiohttp application: typed app state, one cleanup context per resource, channel routes."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from bot.admin.auth import admin_door
from bot.admin.http import ADMIN, AdminState
from bot.admin.routes import install as install_admin
from bot.background import Background
from bot.channels.conversation import TextConversation
from bot.console import install as install_console
from bot.channels.sms import SmsChannel
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_outbound import TelegramOutbound
from bot.channels.telegram_updates import bot_id
from bot.channels.ussd import UssdChannel
from bot.db import make_engine, schema_behind
from bot.outbound import Confirmations, Outbound
from bot.redisconn import RedisPair, connect
from bot import scrape
from bot.wiring import (Core, build_dispatcher, build_services, outbox_sender, sms_conversation, telegram_chat,
                        telegram_sender)
from jobs import process
from jobs.campaign_run import campaign_setup
from jobs.scheduler import SchedulerThread, scheduler_for
from jobs.worker import InprocessWorker
from rq import Queue

CORE = web.AppKey("core", Core)
REDIS = web.AppKey("redis", RedisPair)
DB = web.AppKey("db", DbEngine)
USSD = web.AppKey("ussd", UssdChannel)
SMS = web.AppKey("sms", SmsChannel)
CONVERSATIONS = web.AppKey("conversations", TextConversation)
WORKER = web.AppKey("worker", InprocessWorker | None)
TELEGRAM = web.AppKey("telegram", TelegramChannel)
BACKGROUND = web.AppKey("background", Background)
DISPATCHERS = web.AppKey("dispatchers", dict)
TELEGRAM_CHAT = web.AppKey("telegram_chat", object)
TELEGRAM_OUT = web.AppKey("telegram_out", object)

log = structlog.get_logger()
UNREFUSED = frozenset({"/healthz", "/readyz", "/metrics"})  # an overloaded process is still asked how it is
READY_CHECK_S = 2.0  # a dependency slower than this to answer a PING is not ready


def admission(limit: int):
    """Past `limit` requests in flight, answer 429 at once: a late USSD reply is as bad as none, and a
    bounded process keeps its Redis pool bounded. Health checks and metrics always get through."""
    in_flight = 0

    @web.middleware
    async def admit(request: web.Request, handler):
        nonlocal in_flight
        if in_flight >= limit and request.path not in UNREFUSED:
            return web.Response(status=429, text="overloaded: try again", headers={"Retry-After": "1"})
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return admit


@web.middleware
async def fresh_log_context(request: web.Request, handler):
    """Each request starts with an empty log context; the channel binds its own."""
    structlog.contextvars.clear_contextvars()
    return await handler(request)


async def _redis(app: web.Application) -> AsyncIterator[None]:
    s = app[CORE].settings
    app[REDIS] = connect(s.redis.url, s.redis.max_connections)
    yield
    await app[REDIS].close()


async def _db(app: web.Application) -> AsyncIterator[None]:
    app[DB] = make_engine(app[CORE].settings.database_url)
    yield
    app[DB].dispose()


async def _channels(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    s = core.settings
    worker = InprocessWorker(app[REDIS].sync, s.jobs.queue) if s.jobs.inprocess_worker else None
    app[WORKER] = worker
    queue = Queue(s.jobs.queue, connection=app[REDIS].sync)
    outbound = Outbound(app[DB], queue, worker.wake if worker else None)
    telegram_out = TelegramOutbound(queue, worker.wake if worker else None) if s.telegram.enabled else None
    app[TELEGRAM_OUT] = telegram_out
    services = build_services(core, app[DB])
    confirmations = Confirmations(outbound, core.catalogs, telegram_out)  # by SMS, or in a chosen Telegram chat
    dispatchers = {name: build_dispatcher(core, app[REDIS].aio, app[DB], services=services, channel=name,
                                          confirmations=confirmations) for name in core.channels}
    app[DISPATCHERS] = dispatchers
    app[USSD] = UssdChannel(dispatchers["ussd"], s.ussd.secret, s.service.region, core.menus.codes,
                            s.ussd.reply_timeout)
    app[CONVERSATIONS] = sms_conversation(core, dispatchers["sms"], app[DB], outbound, app[REDIS].aio)
    background = app[BACKGROUND] = Background(limit=64)
    conversations = app[CONVERSATIONS]
    app[SMS] = SmsChannel(app[DB], [x.strip() for x in s.sms.secrets.split(",")], s.service.region,
                          on_stored=lambda inbox_id, known: background.spawn(conversations.process(inbox_id, known)))
    yield
    await app[SMS].inbox.drain()
    await background.drain()  # a task settling its reply waits for that group commit
    await outbound.drain()
    if telegram_out is not None:
        await telegram_out.drain()


async def _telegram(app: web.Application) -> AsyncIterator[None]:
    """The Telegram channel, only where it is enabled: the webhook's door."""
    import telegram

    core = app[CORE]
    s = core.settings.telegram
    bot = telegram.Bot(s.token, base_url=s.api_url) if s.token else None  # PTB's parser only: no call
    outbound = app[TELEGRAM_OUT]  # made with the other channels' (confirmations use it), drained with them
    chat = app[TELEGRAM_CHAT] = telegram_chat(core, app[DISPATCHERS]["telegram"], app[DB], outbound, app[REDIS].aio)
    background = app[BACKGROUND]
    app[TELEGRAM] = TelegramChannel(app[DB], s.secret_token, bot, bot_id(s.token),
                                    on_stored=lambda inbox_id: background.spawn(chat.process(inbox_id)))
    yield


async def _admin(app: web.Application) -> AsyncIterator[None]:
    """The admin API's state: the database, the partners a reminder kind reads, and the send queue."""
    from jobs import campaign_run
    from jobs.reminders import queue_sender

    core, worker = app[CORE], app[WORKER]
    send = queue_sender(Queue(core.settings.jobs.queue, connection=app[REDIS].sync))

    def enqueue(channel: str, ids: list[int]) -> None:
        """The rows are written: if Redis is away they wait for the re-scan, late but not lost."""
        try:
            send(channel, ids)
        except Exception as exc:
            log.warning("admin_hand_off_failed", channel=channel, rows=len(ids), error=type(exc).__name__)
            return
        if worker:
            worker.wake()

    queue_run = campaign_run.queue_run(Queue(core.settings.jobs.queue, connection=app[REDIS].sync))

    def run_campaign(number: int, at: datetime | None) -> None:
        """The campaign is launched in the database: if Redis is away the scheduled re-scan starts its run."""
        try:
            queue_run(number, at)
        except Exception as exc:
            log.warning("admin_campaign_hand_off_failed", campaign=number, error=type(exc).__name__)
            return
        if worker:
            worker.wake()

    app[ADMIN] = AdminState(app[DB], core, build_services(core, app[DB]), enqueue, run_campaign=run_campaign)
    yield


async def _worker(app: web.Application) -> AsyncIterator[None]:
    s = app[CORE].settings
    worker = app[WORKER]
    if worker:
        core = app[CORE]
        process.use(app[DB], outbox_sender(s, app[DB]), telegram_sender(s, app[DB]), catalogs=core.catalogs,
                    services=build_services(core, app[DB]), reminders=core.reminders,
                    campaigns=campaign_setup(s))
        worker.start()
    yield
    if worker:
        worker.stop()


async def _scrape(app: web.Application) -> AsyncIterator[None]:
    """What /metrics reads: every process's counters and a snapshot of the outboxes, queue and campaigns."""
    app[scrape.SCRAPE] = scrape.registry(app[DB], app[REDIS].sync, app[CORE].settings.jobs.queue)
    yield


async def _rescanner(app: web.Application) -> AsyncIterator[None]:
    """Every few seconds: answer inbound messages that were stored but never answered (the process died
    after the 200). Only this stays in the web process: it needs the conversations; every periodic job
    that only queues a job is on the scheduler (`jobs/schedule.py`)."""
    s = app[CORE].settings
    every = timedelta(seconds=s.jobs.rescan_every)

    async def rescan() -> None:
        await _rescan_inbox(app[CONVERSATIONS], every)
        if TELEGRAM_CHAT in app:
            await _rescan_inbox(app[TELEGRAM_CHAT], every)

    async with _periodic("rescan", s.jobs.rescan_every, rescan):
        yield


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    """RQ's cron scheduler in a thread of this process: always in embedded mode (nothing else reaches
    its store), with a real Redis only where `[schedule] inprocess` asks (else `shortcode scheduler`)."""
    s = app[CORE].settings
    runner = None
    if app[REDIS].embedded or s.schedule.inprocess:
        runner = SchedulerThread(scheduler_for(app[REDIS].sync, s))
        runner.start()
    yield
    if runner is not None:
        await asyncio.to_thread(runner.stop)


@asynccontextmanager
async def _periodic(name: str, seconds: float, work: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    """Run `work` every `seconds` while the app runs. A round that fails (Redis or the database away) is
    logged and the next round runs anyway: a periodic job never stops silently."""
    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except Exception as exc:
                log.warning("periodic_round_failed", task=name, error=type(exc).__name__)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()


async def _rescan_inbox(conversations: TextConversation | Any, older_than: timedelta) -> None:
    """Answer what was stored but never answered; one message failing does not stop the others."""
    try:
        ids = await asyncio.to_thread(conversations.unprocessed, older_than)
    except Exception as exc:
        log.warning("inbox_rescan_failed", error=type(exc).__name__)
        return
    for inbox_id in ids:
        try:
            await conversations.process(inbox_id)
        except Exception as exc:  # tried again next round
            log.warning("inbox_rescan_message_failed", inbox=inbox_id, error=type(exc).__name__)


async def health(request: web.Request) -> web.Response:
    """Liveness, without I/O: the process answers, and its in-process worker thread (if any) still runs. A
    dependency away is not a reason to restart it: that is /readyz."""
    worker = request.app[WORKER]
    if worker and not worker.alive():
        return web.json_response({"status": "unavailable", "reason": "the in-process worker has stopped"},
                                 status=503)
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Readiness: Redis answers a PING, the database a SELECT 1 at the code's schema, and the in-process
    worker can work. 503 names everything that is missing, so a load balancer sends traffic elsewhere."""
    missing = [reason for reason in (await _redis_trouble(request.app), await _database_trouble(request.app),
                                     _worker_trouble(request.app)) if reason]
    if missing:
        return web.json_response({"status": "unavailable", "reason": "; ".join(missing)}, status=503)
    return web.json_response({"status": "ok"})


async def _redis_trouble(app: web.Application) -> str | None:
    try:
        async with asyncio.timeout(READY_CHECK_S):
            await app[REDIS].aio.ping()
    except Exception as exc:
        return f"redis: no answer to PING ({type(exc).__name__})"
    return None


async def _database_trouble(app: web.Application) -> str | None:
    """The database answers and has every migration; run off the loop (a connect can hang)."""
    def check() -> str | None:
        with app[DB].connect() as conn:
            conn.execute(text("SELECT 1"))
            return schema_behind(conn)

    try:
        async with asyncio.timeout(READY_CHECK_S):
            behind = await asyncio.to_thread(check)
    except Exception as exc:
        return f"database: no answer ({type(exc).__name__})"
    return f"migrations: {behind}" if behind else None


def _worker_trouble(app: web.Application) -> str | None:
    """Outbound SMS wait on the in-process worker: its thread dead, or failing for more than a few seconds,
    makes this process not ready."""
    worker = app[WORKER]
    return worker.trouble() if worker else None


async def ussd_hop(request: web.Request) -> web.Response:
    return await request.app[USSD].hop(request)


async def ussd_end(request: web.Request) -> web.Response:
    return await request.app[USSD].end(request)


async def sms_inbound(request: web.Request) -> web.Response:
    return await request.app[SMS].inbound(request)


async def telegram_webhook(request: web.Request) -> web.Response:
    return await request.app[TELEGRAM].webhook(request)


async def sms_report(request: web.Request) -> web.Response:
    return await request.app[SMS].report(request)


def make_app(core: Core) -> web.Application:
    app = web.Application(client_max_size=core.settings.http.max_body_bytes,
                          middlewares=[admission(core.settings.http.max_in_flight), fresh_log_context,
                                       admin_door])
    app[CORE] = core
    app.cleanup_ctx.extend([_redis, _db, _channels, _admin, _worker, _scheduler, _rescanner, _scrape])
    app.router.add_get("/healthz", health)
    app.router.add_get("/readyz", ready)
    app.router.add_get("/metrics", scrape.handler(core.settings.metrics.token))
    app.router.add_post("/ussd/africastalking", ussd_hop)
    app.router.add_post("/ussd/africastalking/end", ussd_end)
    app.router.add_post("/sms/inbound", sms_inbound)
    app.router.add_post("/sms/dlr", sms_report)
    install_admin(app)
    install_console(app)
    if core.settings.telegram.enabled:
        app.cleanup_ctx.insert(app.cleanup_ctx.index(_channels) + 1, _telegram)
        app.router.add_post("/telegram/webhook", telegram_webhook)
    return app
