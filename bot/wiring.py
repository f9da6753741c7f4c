"""Build the parts from settings: the pure core once, then a dispatcher over real clients."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from redis.asyncio import Redis
from sqlalchemy.engine import Engine as DbEngine

from bot.dispatcher import Confirmations, Dispatcher, utcnow
from bot.engine.engine import Engine, Policy
from bot.engine.flow import Flow
from bot.engine.catalogs import Catalogs
from bot.i18n import load_catalogs
from bot.menus import MenuTree, load_menus
from bot.engine.render import Budget, Renderer
from bot.operations import Operations
from integrations.services import Services, simulated
from bot.settings import Settings
from bot.store import SessionStore
from bot.subscribers import Subscribers


@dataclass(frozen=True)
class Core:
    """Everything that is pure data: flows, menus, catalogs, the engine and the renderers."""

    settings: Settings
    catalogs: Catalogs
    flows: dict[str, Flow]
    menus: MenuTree
    engine: Engine
    renderers: dict[str, Renderer]
    sms_engine: Engine  # the same flows; a session lives for the SMS window and never offers a resume


def build_core(settings: Settings) -> Core:
    from flows import FLOWS

    catalogs = load_catalogs(settings.path(settings.paths.locale))
    menus = load_menus(settings.path(settings.paths.menus), FLOWS)
    s = settings.session
    tz = settings.service.timezone  # the dispatcher reads an empty session tz as this one
    policy = Policy(idle_timeout=s.idle_timeout, resume_window=s.resume_window,
                    max_wrong_inputs=s.max_wrong_inputs, default_timezone=tz)
    engine = Engine({**FLOWS, "menu": menus.flow()}, menus.root, policy)
    ussd = Renderer(catalogs, Budget(settings.ussd.gsm7_budget, settings.ussd.ucs2_budget))
    sms = Renderer(catalogs, sms_budget(settings.sms.max_segments))
    window = settings.sms.session_window
    sms_engine = Engine(engine.flows, menus.root, Policy(idle_timeout=window, resume_window=-1,
                                                         max_wrong_inputs=s.max_wrong_inputs, default_timezone=tz))
    return Core(settings, catalogs, dict(FLOWS), menus, engine, {"ussd": ussd, "sms": sms}, sms_engine)


def sms_budget(segments: int) -> Budget:
    """What `segments` concatenated SMS hold: 160/70 characters alone, 153/67 each when joined."""
    if segments <= 1:
        return Budget(160, 70)
    return Budget(153 * segments, 67 * segments)


def build_dispatcher(core: Core, redis: Redis, db: DbEngine, clock: Callable[[], datetime] = utcnow,
                     services: Services | None = None, channel: str = "ussd",
                     confirmations: Confirmations | None = None) -> Dispatcher:
    """The USSD dispatcher (sessions kept for the resume window), or the SMS one (for the SMS window)."""
    s = core.settings
    ttl = s.sms.session_window if channel == "sms" else max(s.session.resume_window, s.session.idle_timeout)
    store = SessionStore(redis, s.redis.prefix, ttl_s=ttl, lock_ttl_ms=s.session.lock_ttl_ms,
                         lock_wait_ms=s.session.lock_wait_ms)
    from flows import OPERATIONS

    return Dispatcher(core.sms_engine if channel == "sms" else core.engine, store,
                      Subscribers(db, s.service.timezone), core.renderers, s.service.operator,
                      s.service.language, clock, services or simulated(db, clock, s.partners.read_cache_seconds),
                      Operations(OPERATIONS, s.partners.timeout), confirmations)


def outbox_sender(settings: Settings, db: DbEngine) -> "Sender":
    """The sender RQ jobs of this process use (jobs carry ids only)."""
    from integrations.smsgateway.client import GatewayClient
    from jobs.outbox import Sender

    s = settings.sms
    return Sender(db, GatewayClient(s.gateway_url, s.username, s.api_key), sender_id=s.short_code,
                  claim_s=settings.jobs.claim_seconds)
