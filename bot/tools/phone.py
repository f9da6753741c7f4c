"""A simulated handset speaking USSD to the dispatcher, and the texts it receives: used by the simulator
and transcripts."""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Iterator

from bot.dispatcher import Dispatcher, Inbound, Reply
from integrations.gsm import count

_refs = itertools.count(1)


class NoSession(RuntimeError):
    """Input typed with no USSD session open: dial a code first."""


class UnknownCode(ValueError):
    """A service code the USSD webhook refuses: the simulator refuses it too."""


@dataclass
class Phone:
    """Keeps what a USSD gateway keeps: the session id, the code and every input so far."""

    dispatcher: Dispatcher
    msisdn: str
    refs: Iterator[int] = field(default_factory=lambda: _refs)  # session ids; a transcript brings its own
    ref: str | None = None
    code: str = ""
    inputs: list[str] = field(default_factory=list)

    async def dial(self, code: str) -> Reply:
        self.ref, self.code, self.inputs = f"sim-{next(self.refs)}", code, []
        return await self._hop(None)

    async def send(self, text: str) -> Reply:
        if self.ref is None:
            raise NoSession("no session: dial a code first, e.g. *126#")
        self.inputs.append(text)
        return await self._hop(text)

    async def _hop(self, text: str | None) -> Reply:
        reply = await self.dispatcher.handle(
            Inbound("ussd", self.msisdn, self.ref or "", text, len(self.inputs), self.code))
        if reply.final:
            self.ref = None
        return reply


def check_code(code: str, codes: tuple[str, ...]) -> str:
    """The code, if the webhook would take it (the same answer as its 400)."""
    if code not in codes:
        raise UnknownCode(f"unknown serviceCode '{code}': the USSD webhook refuses it; dial {' or '.join(codes)}")
    return code


def show(reply: Reply) -> str:
    """The screen as the gateway sends it to the handset."""
    return ("END " if reply.final else "CON ") + reply.text


async def set_language(dispatcher: Dispatcher, msisdn: str, lang: str) -> bool:
    """What the account menu's language choice does: the subscriber's record, and the session a next
    dial would resume (else "continue?" would still ask in the old language). False: not a subscriber."""
    subscribers = dispatcher.subscribers
    if await asyncio.to_thread(subscribers.profile, msisdn) is None:
        return False
    await asyncio.to_thread(subscribers.set_language, msisdn, lang)
    held = await dispatcher.store.acquire(dispatcher.channel.session_key(msisdn))
    if held.session is None:
        await dispatcher.store.release(held)
    else:
        await dispatcher.store.save(held, held.session.evolve(lang=lang))
    return True


@dataclass(frozen=True)
class Sms:
    """A text as it reaches a handset."""

    to: str
    sender: str
    text: str


def sms_frame(sms: Sms) -> str:
    """The text as the handset shows it, with what the network counts: encoding, units, segments."""
    counted = count(sms.text)
    width = min(max([len(line) for line in sms.text.splitlines()] + [20]), 40)
    return (f"SMS from {sms.sender}\n{sms.text}\n{'-' * width}\n"
            f"[SMS {counted.encoding} {counted.units} units, {counted.segments} segment(s)]")


class Handsets:
    """Stands in for the outbox in the simulator: what production writes for sending (a confirming
    screen, `bot.outbound.Confirmations`) reaches the handset at once, once per cause as the outbox
    keeps one row per cause."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.causes: set[str] = set()
        self.waiting: list[Sms] = []

    def write(self, msisdn: str, text: str, cause: str, kind: str, also=None) -> int | None:
        if cause in self.causes:
            return None
        self.causes.add(cause)
        self.waiting.append(Sms(msisdn, self.sender, text))
        return len(self.causes)

    async def hand_off(self, ids: list[int]) -> None:
        """Nothing to queue: the text was delivered when written."""

    def take(self, msisdn: str) -> list[Sms]:
        """The texts that reached `msisdn` since the last look."""
        mine = [sms for sms in self.waiting if sms.to == msisdn]
        self.waiting = [sms for sms in self.waiting if sms.to != msisdn]
        return mine
