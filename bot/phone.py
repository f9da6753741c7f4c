"""A simulated handset speaking USSD to the dispatcher: used by the simulator and transcripts."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterator

from bot.dispatcher import Dispatcher, Inbound, Reply

_refs = itertools.count(1)


class NoSession(RuntimeError):
    """Input typed with no USSD session open: dial a code first."""


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


def show(reply: Reply) -> str:
    """The screen as the gateway sends it to the handset."""
    return ("END " if reply.final else "CON ") + reply.text
