"""`shortcode sim`: a terminal phone for testers, on the same engine and dispatcher as USSD."""
from __future__ import annotations

import asyncio
import sys
from typing import Callable

from bot.dispatcher import Dispatcher, Reply
from bot.msisdn import BadNumber, normalise
from bot.phone import NoSession, Phone, show
from integrations.gsm import char_units

HELP = ("Type a code such as *126# to dial, then your replies. Commands: /as NUMBER (switch subscriber),"
        " /lang en|zh_Hans, /help, /quit")


def frame(reply: Reply, gsm7_budget: int, ucs2_budget: int) -> str:
    """The screen as the handset shows it, with what it costs against the USSD budget."""
    text = show(reply)
    encoding, sizes = char_units(reply.text)
    budget = gsm7_budget if encoding == "GSM-7" else ucs2_budget
    width = max(len(line) for line in text.splitlines())
    rule = "-" * min(max(width, 20), 40)
    return f"{rule}\n{text}\n{rule}\n[{encoding} {sum(sizes)}/{budget}]"


class Console:
    def __init__(self, dispatcher: Dispatcher, msisdn: str, budgets: tuple[int, int], region: str = "CN",
                 out: Callable[[str], None] = print) -> None:
        self.phone = Phone(dispatcher, msisdn)
        self.budgets = budgets
        self.region = region
        self.out = out

    async def line(self, text: str) -> bool:
        """Handle one typed line; False when the tester quits."""
        text = text.strip()
        if text in ("/quit", "/exit"):
            return False
        if text.startswith("/"):
            self._command(text)
        elif text.startswith("*") and text.endswith("#"):
            self.out(frame(await self.phone.dial(text), *self.budgets))
        elif text or self.phone.ref:
            try:
                self.out(frame(await self.phone.send(text), *self.budgets))
            except NoSession as exc:
                self.out(str(exc))
        return True

    def _command(self, text: str) -> None:
        verb, _, arg = text.partition(" ")
        subscribers = self.phone.dispatcher.subscribers
        if verb == "/as":
            try:
                self.phone = Phone(self.phone.dispatcher, normalise(arg, self.region))
                self.out(f"now dialling as {self.phone.msisdn}")
            except BadNumber as exc:
                self.out(str(exc))
        elif verb == "/lang" and arg in ("en", "zh_Hans"):
            subscribers.set_language(self.phone.msisdn, arg)
            self.out(f"language of {self.phone.msisdn} set to {arg} (from the next dial)")
        else:
            self.out(HELP)


async def repl(console: Console) -> None:
    console.out(HELP)
    loop = asyncio.get_running_loop()
    while True:
        prompt = f"{console.phone.msisdn} > "
        line = await loop.run_in_executor(None, lambda: _read(prompt))
        if line is None or not await console.line(line):
            return


def _read(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None
    finally:
        sys.stdout.flush()
