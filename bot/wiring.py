"""Build the parts from settings: the pure core once, then a dispatcher per channel over real clients."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from redis.asyncio import Redis
from sqlalchemy.engine import Engine as DbEngine

from bot.channels.conversation import Speech, TextConversation
from bot.channels.sms_mailbox import SmsMailbox
from bot.channels.table import Channel, channel_table
from bot.dispatcher import Confirmations, Dispatcher, utcnow
from bot.engine.catalogs import Catalogs
from bot.engine.engine import Engine
from bot.engine.flow import Flow
from bot.engine.render import Renderer
from bot.i18n import load_catalogs
from bot.menus import MenuTree, load_menus
from bot.operations import Operations
from bot.outbound import Outbound
from bot.rates import MinuteCounter
from bot.settings import Settings
from bot.store import SessionStore
from bot.subscribers import Subscribers
from integrations.services import Services, simulated


@dataclass(frozen=True)
class Core:
    """Everything that is pure data: flows, menus, catalogs, and per channel its entry in the channel
    table, its engine (the same flows under the channel's policy) and its renderer (the channel's budget)."""

    settings: Settings
    catalogs: Catalogs
    flows: dict[str, Flow]
    menus: MenuTree
    channels: dict[str, Channel]
    engines: dict[str, Engine]
    renderers: dict[str, Renderer]
    reminders: "Reminders | None" = None  # the reminder kinds (menus/reminders.toml) and zones jobs run them in


def build_core(settings: Settings, channels: dict[str, Channel] | None = None) -> Core:
    """The core for every channel of `channels` (default: the channel table built from settings)."""
    from flows import FLOWS

    catalogs = load_catalogs(settings.path(settings.paths.locale))
    menus = load_menus(settings.path(settings.paths.menus), FLOWS)
    channels = channels if channels is not None else channel_table(settings)
    flows = {**FLOWS, "menu": menus.flow()}
    engines = {name: Engine(flows, menus.root, c.policy) for name, c in channels.items()}
    renderers = {name: Renderer(catalogs, c.budget) for name, c in channels.items()}
    return Core(settings, catalogs, dict(FLOWS), menus, channels, engines, renderers, build_reminders(settings))


def build_reminders(settings: Settings) -> "Reminders":
    """The reminder kinds, validated (a bad file stops the process with one line: `KindError`)."""
    from flows import FLOWS
    from jobs.reminder_kinds import kinds_path, load_kinds
    from jobs.reminders import Reminders

    kinds = load_kinds(kinds_path(settings.path(settings.paths.menus)), FLOWS)
    return Reminders(kinds, settings.service.timezone, settings.service.timezone)


def build_services(core: Core, db: DbEngine, clock: Callable[[], datetime] = utcnow) -> Services:
    """The partners every channel's dispatcher shares (one read cache)."""
    return simulated(db, clock, core.settings.partners.read_cache_seconds)


def build_dispatcher(core: Core, redis: Redis, db: DbEngine, clock: Callable[[], datetime] = utcnow,
                     services: Services | None = None, channel: str = "ussd",
                     confirmations: Confirmations | None = None) -> Dispatcher:
    """The dispatcher of one channel of the table: its engine, renderer and session store. `confirmations`
    is used only by a channel that confirms by SMS."""
    s = core.settings
    entry = core.channels[channel]
    store = SessionStore(redis, s.redis.prefix, ttl_s=entry.session_ttl, lock_ttl_ms=s.session.lock_ttl_ms,
                         lock_wait_ms=s.session.lock_wait_ms)
    from flows import OPERATIONS

    return Dispatcher(entry, core.engines[channel], store, Subscribers(db, s.service.timezone),
                      core.renderers[channel], s.service.operator, s.service.language, clock,
                      services or build_services(core, db, clock), Operations(OPERATIONS, s.partners.timeout),
                      confirmations if entry.confirms_by_sms else None)


def sms_conversation(core: Core, dispatcher: Dispatcher, db: DbEngine, outbound: Outbound, redis: Redis,
                     clock: Callable[[], datetime] = utcnow) -> TextConversation:
    """The SMS channel's text conversation: its inbox and outbox, its flood limit and turn deadline."""
    s = core.settings
    speech = Speech(Subscribers(db, s.service.timezone).profile, core.catalogs.render, s.service.language)
    return TextConversation(SmsMailbox(db, outbound, clock), dispatcher, core.menus,
                            MinuteCounter(redis, f"{s.redis.prefix}rate:"), speech, s.sms.short_code, clock,
                            max_per_minute=s.sms.max_per_minute, turn_timeout=s.sms.turn_timeout,
                            reminders=reminder_replies(dispatcher, db))


def reminder_replies(dispatcher: Dispatcher, db: DbEngine) -> "ReminderReplies":
    """What a "1" continues: the reminders' gotos, against this channel's sessions and session window."""
    from bot.channels.reminder_replies import ReminderReplies

    return ReminderReplies(db, dispatcher.store, dispatcher.channel, dispatcher.engine)


def telegram_chat(core: Core, dispatcher: Dispatcher, db: DbEngine, outbound: "TelegramOutbound", redis: Redis,
                  clock: Callable[[], datetime] = utcnow) -> "TelegramChat":
    """The Telegram channel's chat: linking and its own commands, then the shared text conversation over
    its inbox, with the SMS flood limit and turn deadline."""
    from bot.channels.telegram_chat import TelegramChat
    from bot.channels.telegram_mailbox import TelegramMailbox

    s = core.settings
    subscribers = Subscribers(db, s.service.timezone)
    speech = Speech(subscribers.profile, core.catalogs.render, s.service.language)
    mailbox = TelegramMailbox(db, outbound, core.catalogs, core.menus.root, s.service.language, clock)
    conversation = TextConversation(mailbox, dispatcher, core.menus, MinuteCounter(redis, f"{s.redis.prefix}tgrate:"),
                                    speech, s.sms.short_code, clock, max_per_minute=s.sms.max_per_minute,
                                    turn_timeout=s.sms.turn_timeout, reminders=reminder_replies(dispatcher, db))
    return TelegramChat(db, outbound, conversation, subscribers, core.catalogs, s.service.operator, s.service.region,
                        s.service.language, clock)


def outbox_sender(settings: Settings, db: DbEngine) -> "Sender":
    """The sender RQ jobs of this process use (jobs carry ids only)."""
    from integrations.smsgateway.client import GatewayClient
    from jobs.gate import Gate
    from jobs.outbox import Sender

    s = settings.sms
    return Sender(db, GatewayClient(s.gateway_url, s.username, s.api_key), sender_id=s.short_code,
                  claim_s=settings.jobs.claim_seconds,
                  gate=Gate.from_settings(settings.reminders, settings.service.timezone))


def telegram_sender(settings: Settings, db: DbEngine) -> "TelegramSender | None":
    """The Telegram sender RQ jobs of this process use: a python-telegram-bot `Bot` on `[telegram] api_url`,
    paced to Telegram's limits; None without a token (no Telegram channel)."""
    import telegram

    from jobs.gate import Gate
    from jobs.telegram import Pace, TelegramSender

    t = settings.telegram
    if not t.token:
        return None
    return TelegramSender(db, telegram.Bot(t.token, base_url=t.api_url), Pace(t.max_per_second, t.per_chat_seconds),
                          claim_s=settings.jobs.claim_seconds,
                          gate=Gate.from_settings(settings.reminders, settings.service.timezone))
