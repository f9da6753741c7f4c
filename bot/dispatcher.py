"""One turn, end to end: lock and load the session, step the engine, act on events, save, render."""
from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

import structlog

from bot.channels.table import Channel
from bot.engine import events as ev
from bot.engine.engine import Context, Engine, Turn
from bot.engine.flow import Profile, Screen
from bot.engine.render import Renderer
from bot.engine.text import T
from bot.operations import Operations
from bot.store import Busy, Held, SessionStore
from bot.subscribers import Subscribers
from jobs.metrics import TURN_SECONDS, TURNS

log = structlog.get_logger()

MAX_CALLS_PER_TURN = 4
LANG_LOOKUP_S = 1.0  # an apology waits this long at most to learn the subscriber's language
APOLOGY = T("Sorry, the service is busy. Please dial again in a moment.")
NOT_SUBSCRIBER = T("Sorry, this service is only for {operator} subscribers.")
OUTCOMES = ("continued", "ended", "busy", "failed", "timed_out")  # shortcode_turns_total{outcome}


# The language of the turn in progress, once read: an apology after the turn is cut at its deadline (in the
# channel, the same task) speaks it without another lookup.
_TURN_LANG: ContextVar[str | None] = ContextVar("turn_lang", default=None)


@dataclass(frozen=True)
class Inbound:
    """A subscriber's input, whatever channel brought it."""

    channel: str
    msisdn: str  # E.164
    ref: str  # the channel's session id
    text: str | None  # None: a new dial / conversation start
    hop: int | None = None  # a growing count or id of the input (USSD inputs, SMS inbox id): replay detection
    service_code: str = ""
    start: str = ""  # SMS: where to begin (a keyword's goto) when the text does not continue a live session
    notice: T | None = None  # SMS: a line on top when beginning at the main menu (the help for unknown text)
    expect_hop: int | None = None  # a button press: the session's hops when its menu was drawn
    values: tuple[tuple[str, Any], ...] = ()  # with `start`: the new session's first values (a reminder's)


class Confirmations(Protocol):
    async def send(self, msisdn: str, text: T, session: Any) -> None: ...


@dataclass(frozen=True)
class Reply:
    """The answer to an input: the text the channel's renderer made of the screen, and what a channel that
    draws its own options (buttons) needs: the channel-neutral screen, the page shown, the page count and
    the language to translate the screen in."""

    text: str
    final: bool
    screen: Screen | None = None
    page: int = 0
    pages: int = 1
    lang: str = ""
    expired: bool = False  # a press on an older menu: nothing was applied, the session is as it was


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Dispatcher:
    """Turns of one channel (an entry of the channel table) with that channel's engine and renderer."""

    def __init__(self, channel: Channel, engine: Engine, store: SessionStore, subscribers: Subscribers,
                 renderer: Renderer, operator: str, default_lang: str = "zh_Hans",
                 clock: Callable[[], datetime] = utcnow, services: Any = None,
                 operations: Operations | None = None, confirmations: Confirmations | None = None) -> None:
        self.channel = channel
        self.engine = engine
        self.store = store
        self.subscribers = subscribers
        self.renderer = renderer
        self.operator = operator
        self.default_lang = default_lang
        self.clock = clock
        self.services = services
        self.operations = operations or Operations({})
        self.confirmations = confirmations  # USSD: a confirming screen is also sent by SMS
        # the metric children of this channel, looked up once: a turn pays one inc and one observe
        self._turns = {outcome: TURNS.labels(channel.name, outcome) for outcome in OUTCOMES}
        self._seconds = TURN_SECONDS.labels(channel.name)

    async def handle(self, inbound: Inbound) -> Reply:
        """The reply to one input; a failing dependency gets a polite END and leaves the session as it was."""
        try:
            return await self.reply(inbound)
        except Busy:
            log.warning("subscriber_busy")
        except Exception as exc:  # partner, database or Redis down: never a stack trace on a handset
            log.error("turn_failed", error=type(exc).__name__, exc_info=True)
        return self.apology(await self.language(inbound))

    def apology(self, lang: str | None = None) -> Reply:
        """The busy/error END, in `lang`, else the language of the turn in progress, else [service] language."""
        return self._end(APOLOGY, lang or _TURN_LANG.get() or self.default_lang)

    def _end(self, text: T, lang: str) -> Reply:
        """A final one-line reply the engine did not draw (an apology, a refusal)."""
        return Reply(self.renderer.catalogs.render(lang, text), True, Screen("end", text, back=False), lang=lang)

    async def language(self, inbound: Inbound) -> str | None:
        """The subscriber's language for an apology: the turn's if it got that far, else their session's
        (read without the lock another turn holds), else their profile's; None if none answers in time."""
        if known := _TURN_LANG.get():
            return known
        try:
            async with asyncio.timeout(LANG_LOOKUP_S):
                return await self._session_lang(inbound) or await self._profile_lang(inbound.msisdn)
        except Exception:  # the apology goes out in [service] language rather than late
            return None

    async def _session_lang(self, inbound: Inbound) -> str | None:
        try:
            session = await self.store.peek(self.channel.session_key(inbound.msisdn))
        except Exception:  # Redis away: the profile may still answer
            return None
        return session.lang if session else None

    async def _profile_lang(self, msisdn: str) -> str | None:
        profile = await asyncio.to_thread(self.subscribers.profile, msisdn)
        return profile.lang if profile else None

    async def reply(self, inbound: Inbound) -> Reply:
        """The reply to one input, raising when a dependency fails (SMS retries later instead); counted and
        timed by outcome."""
        started, outcome = time.perf_counter(), "failed"
        try:
            reply = await self._answer(inbound)
            outcome = "ended" if reply.final else "continued"
            return reply
        except Busy:
            outcome = "busy"
            raise
        except asyncio.CancelledError:  # cut at the channel's deadline
            outcome = "timed_out"
            raise
        finally:
            self._turns[outcome].inc()
            self._seconds.observe(time.perf_counter() - started)

    async def _answer(self, inbound: Inbound) -> Reply:
        renderer = self.renderer
        now = self.clock()
        _TURN_LANG.set(None)
        held = await self.store.acquire(self.channel.session_key(inbound.msisdn))
        try:
            profile = await self._profile(held, inbound)
            _TURN_LANG.set(profile.lang if profile else None)
            if profile is None:
                await self.store.release(held)
                log.info("not_subscriber")
                return self._end(T(NOT_SUBSCRIBER.msgid, operator=self.operator), self.default_lang)
            ctx = Context(profile, renderer, self.services)
            if self._is_replay(held, inbound):
                log.info("hop_replayed", hop=inbound.hop)
                session = held.session
                screen = self.engine.screen(session, now, ctx)
                await self.store.release(held)
                return self._reply(renderer, screen, session.lang, session.page)
            if self._is_expired(held, inbound):
                log.info("press_expired", hop=inbound.expect_hop)
                await self.store.release(held)
                return Reply("", False, lang=held.session.lang if held.session else profile.lang, expired=True)
            turn = await self._turn(held, inbound, now, ctx)
            session = turn.session if inbound.hop is None else turn.session.evolve(hops=inbound.hop)
            await self._confirm(turn)  # the operation happened whether or not the save below succeeds
            saved = await self.store.save(held, session)
        except asyncio.CancelledError:  # the reply timeout: answer now, release when Redis answers
            self.store.release_later(held)
            raise
        except BaseException:
            await self.store.release(held)
            raise
        await self._act(turn, profile)  # only a turn that was saved happened
        log.info("screen_rendered", flow=saved.flow, state=saved.state, hop=saved.hops,
                 events=[type(e).__name__ for e in turn.events])
        return self._reply(renderer, turn.screen, saved.lang, saved.page)

    async def _turn(self, held: Held, inbound: Inbound, now: datetime, ctx: Context) -> Turn:
        session = held.session
        idle = inbound.start and session is not None and not self.engine.live(session, now)
        if inbound.text is None or session is None or session.ref != inbound.ref or idle:
            notice = inbound.notice if inbound.text is not None else None
            turn = self.engine.begin(session, inbound.msisdn, inbound.ref, now, ctx, inbound.service_code,
                                     inbound.start, notice, dict(inbound.values))
        else:
            turn = self.engine.step(session, inbound.text, now, ctx)
        for _ in range(MAX_CALLS_PER_TURN):
            if turn.call is None:
                return turn
            outcome = await self.operations.run(turn.call, ctx.services)
            resumed = self.engine.resume(turn.session, outcome, now, ctx)
            turn = Turn(resumed.session, resumed.screen, turn.events + resumed.events, resumed.call)
        raise RuntimeError(f"more than {MAX_CALLS_PER_TURN} calls in one turn at {turn.session.location}")

    async def _profile(self, held: Held, inbound: Inbound) -> Profile | None:
        """Inside a conversation the profile comes with the session; a new one reads the database (with the
        other turns beginning at the same moment)."""
        s = held.session
        if s is not None and s.ref == inbound.ref and s.tier and inbound.text is not None:
            return Profile(s.msisdn, "", s.tier, s.lang, s.tz or self.subscribers.default_timezone)
        return await self.subscribers.load(inbound.msisdn)

    @staticmethod
    def _is_replay(held: Held, inbound: Inbound) -> bool:
        s = held.session
        if s is None or s.ref != inbound.ref:
            return False
        return inbound.hop is not None and inbound.hop <= s.hops  # a hop already applied, sent again

    @staticmethod
    def _is_expired(held: Held, inbound: Inbound) -> bool:
        """A press made on a menu the session has moved past (or that belongs to an ended session)."""
        if inbound.expect_hop is None:
            return False
        s = held.session
        return s is None or s.ref != inbound.ref or s.hops != inbound.expect_hop

    async def _confirm(self, turn: Turn) -> None:
        """Confirming screens also go by SMS; written before the session is saved, so a failure after
        the partner confirmed cannot leave the booking without its message (the cause makes a retry
        write nothing new)."""
        if self.confirmations:
            for event in turn.events:
                if isinstance(event, ev.ConfirmationShown):
                    await self.confirmations.send(turn.session.msisdn, event.text, turn.session)

    async def _act(self, turn: Turn, profile: Profile) -> None:
        """Side effects of a saved turn. A failure here is logged, never shown: the turn happened."""
        for event in turn.events:
            if isinstance(event, ev.LanguageChanged):
                try:
                    await asyncio.to_thread(self.subscribers.set_language, profile.msisdn, event.lang)
                except Exception as exc:  # the session carries the new language; the profile catches up next time
                    log.error("language_not_recorded", error=type(exc).__name__)

    @staticmethod
    def _reply(renderer: Renderer, screen: Screen, lang: str, page: int) -> Reply:
        rendered = renderer.render(screen, lang, page)
        return Reply(rendered.text, rendered.final, screen, rendered.page, rendered.pages, lang)
