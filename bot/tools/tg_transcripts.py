"""The recorded USSD conversations (tests/transcripts/*.yaml) replayed on the Telegram channel: the
transcript's subscriber is a Telegram user linked by sharing their number, `dial` is /menu, a number that
labels a button ("3. Golf") or navigates (0, 00, 98, 99) presses it, anything else is typed. Expectations
are held to the Telegram message as `bot.tools.tg_compare` explains. USSD's paging, its immediate apology
and its resume offer have Telegram counterparts rather than equals: see the methods below and
docs/channels.md."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from bot.channels.conversation import GIVE_UP
from bot.channels.telegram_outbound import TelegramOutbound
from bot.dispatcher import Dispatcher
from bot.tools.local import scratch_dispatcher
from bot.tools.phone import UnknownCode, check_code, set_language
from bot.tools.tg_client import NAVIGATION, Answer, TelegramUser, option, user_id
from bot.tools.tg_compare import OPTION, Layout, first_option, view
from bot.tools.transcripts import Clock, Mismatch, TranscriptError, _number, clock_for, load
from bot.wiring import Core, telegram_chat

SUBSCRIBER = "+8613800000001"
MAX_TURNS = 20  # page turns in search of an option: a menu longer than 200 options is a mistake anyway


def unthrottled(core: Core) -> Core:
    """A transcript sends dozens of messages in one minute of its fixed clock: no flood limit for it."""
    s = core.settings
    sms = s.sms.model_copy(update={"max_per_minute": 10**6})
    return replace(core, settings=s.model_copy(update={"sms": sms}))


async def replay(path: Path, core: Core, redis_url: str = "embedded",
                 echo: Callable[[str], None] | None = None) -> Mismatch | None:
    """Play a transcript on Telegram, on a fresh demo database and store, at the transcript's time."""
    clock = clock_for(load(path))
    core = unthrottled(core)
    async with scratch_dispatcher(core, clock, redis_url, channel="telegram") as dispatcher:
        return await Replay(path, core, dispatcher, clock, echo).run()


class Replay:
    def __init__(self, path: Path, core: Core, dispatcher: Dispatcher, clock: Clock,
                 echo: Callable[[str], None] | None) -> None:
        self.path, self.core, self.dispatcher, self.clock = path, core, dispatcher, clock
        self.echo = echo or (lambda text: None)
        self.db = dispatcher.subscribers.engine
        self.chat = telegram_chat(core, dispatcher, self.db, TelegramOutbound(), dispatcher.store.redis, clock)
        self.layout = Layout(core.catalogs)
        self.updates = itertools.count(1)
        self.user: TelegramUser | None = None
        self.answer = Answer([])
        self.resuming = False  # the transcript is at USSD's resume offer

    async def run(self) -> Mismatch | None:
        """The first step whose expectation does not hold, or None."""
        data = load(self.path)
        region = self.core.settings.service.region
        if "lang" in data:
            await set_language(self.dispatcher, _number(self.path, data.get("subscriber", SUBSCRIBER), region),
                               str(data["lang"]))
        await self._become(_number(self.path, data.get("subscriber", SUBSCRIBER), region))
        for n, step in enumerate(data["steps"], 1):
            if not isinstance(step, dict) or len(step) != 1:
                raise TranscriptError(f"{self.path}: step {n} must be a mapping with one key")
            (verb, arg), = step.items()
            why = await self._step(n, verb, arg)
            if why:
                return Mismatch(str(self.path), n, *why)
        return None

    async def _step(self, n: int, verb: str, arg: Any) -> tuple[str, str] | None:
        if verb == "dial":
            try:
                check_code(str(arg), self.core.menus.codes)
            except UnknownCode as exc:
                return "a screen", str(exc)
            if await self._offers_resume():
                self.resuming = True
                self.echo("> dial: USSD offers to resume here; a chat keeps its session, so nothing is sent\n")
            else:
                await self._act("/menu", self.user.type("/menu"))
        elif verb == "send" and self.resuming:
            await self._resume(str(arg))
        elif verb == "send":
            await self._send(str(arg))
        elif verb in ("expect", "expect_contains", "expect_sms"):
            return await self._expect(verb, arg)
        elif verb == "wait":
            self.clock.now += timedelta(seconds=float(arg))
        elif verb == "as":
            await self._become(_number(self.path, arg, self.core.settings.service.region))
        elif verb == "lang":
            await set_language(self.dispatcher, self.msisdn, str(arg))
        elif verb == "partner":
            name, _, state = str(arg).partition(" ")
            getattr(self.dispatcher.services, name).faults.down = state == "down"
        else:
            raise TranscriptError(f"{self.path}: step {n}: unknown verb '{verb}'")
        return None

    async def _send(self, text: str) -> None:
        """Press the button the number stands for, turning Telegram's pages to it as a user would, else type
        the text. A transcript's own page turn (98, 99) is left out: USSD pages by bytes, Telegram by 10, so
        the turn is made when an option or an expectation needs another page."""
        last = self.user.last
        if text in ("98", "99") and last and last.buttons:
            self.echo(f"> {text}: Telegram pages differ; a page is turned when an option on it is needed\n")
            return
        if text.isdigit() and text not in NAVIGATION:
            await self._seek(int(text))
        button = option(self.user.last, text) if self.user.last else None
        if button is not None:
            await self._act(f"[press {button.label}]", self.user.press(button))
        else:
            await self._act(text, self.user.type(text))

    async def _offers_resume(self) -> bool:
        """Whether a dial now gets USSD's "continue where you left off?": the subscriber's session (the same
        flows and inputs on Telegram) is unfinished, recent and away from the main menu (`Engine._resumable`
        under USSD's resume window). On Telegram the session simply goes on."""
        s = await self.dispatcher.store.peek(self.dispatcher.channel.session_key(self.msisdn))
        window = self.core.settings.session.resume_window
        return (s is not None and not s.ended and self.clock.now.timestamp() - s.updated <= window
                and (s.flow, s.state) != self.core.engines["ussd"].root)

    async def _resume(self, text: str) -> None:
        """The answer to USSD's resume offer on Telegram: Continue is the chat's latest menu, as drawn
        (its buttons still press at the session's hop), Start over is /menu; anything else is typed."""
        self.resuming = False
        if text == "1" and self.user.menu is not None:
            self.user.last = self.user.menu
            self.echo(f"> 1: continue on the chat's latest menu\n{view(self.user.menu)}\n")
        elif text == "2":
            await self._act("/menu", self.user.type("/menu"))
        else:
            await self._send(text)

    async def _seek(self, number: int) -> None:
        """Turn the pages of the message shown until option `number` is on it, or no page that way."""
        for _ in range(MAX_TURNS):
            shown = [int(b.label.split(".", 1)[0]) for b in self.user.last.buttons if OPTION.match(b.label)] \
                if self.user.last else []
            if not shown or min(shown) <= number <= max(shown):
                return
            turn = option(self.user.last, "98" if number > max(shown) else "99")
            if turn is None:
                return
            await self._act(f"[press {turn.label}]", self.user.press(turn))

    async def _unanswered(self, inbox_id: int) -> None:
        """An update the chat could not answer (a partner down) is retried by the re-scan until the
        conversation gives up and apologises: that moment is played with the partner as the transcript
        left it, then the clock goes back to the transcript's time."""
        now = self.clock.now
        self.clock.now = now + GIVE_UP
        try:
            await self.chat.process(inbox_id)
        finally:
            self.clock.now = now

    async def _act(self, said: str, doing) -> None:
        self.answer = await doing
        shown = "\n".join(view(m) for m in self.answer.messages) or view(None, self.answer.notice)
        self.echo(f"> {said}\n{shown}\n")

    async def _expect(self, verb: str, arg: Any) -> tuple[str, str] | None:
        """(expected, actual) when the expectation does not hold on the message shown."""
        if self.resuming and self.layout.offers_resume(arg):
            return None  # USSD's resume offer: Telegram has none to compare
        if verb == "expect":
            if (number := first_option(str(arg))) is not None:
                await self._seek(number)
            why = self.layout.exact(str(arg), self.user.last)
            return None if why is None else (str(arg).rstrip("\n"), f"{view(self.user.last)}\n({why})")
        for fragment in [arg] if isinstance(arg, str) else arg:
            # an SMS confirmation on USSD is the confirming message itself on Telegram
            if (number := first_option(str(fragment))) is not None:
                await self._seek(number)
            why = self.layout.contains(str(fragment), self.user.last)
            if why:
                return f"... {fragment} ...", f"{view(self.user.last)}\n({why})"
        return None

    async def _become(self, msisdn: str) -> None:
        """The subscriber's own Telegram user, linked by sharing their number (as the contact button does)."""
        self.msisdn = msisdn
        self.user = TelegramUser(self.chat, self.db, user_id(msisdn), self.clock, self.updates,
                                 unanswered=self._unanswered)
        await self._act(f"[share {msisdn}]", self.user.share(msisdn))
