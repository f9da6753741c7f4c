"""`shortcode sim`: a terminal phone for testers, on the same engine and dispatcher as USSD. The
confirming screens production also sends by SMS reach the phone's inbox and are shown as texts."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, Awaitable, Callable, Coroutine

from bot.dispatcher import Dispatcher, Reply
from bot.msisdn import BadNumber, normalise
from bot.tools.phone import Handsets, NoSession, Phone, UnknownCode, check_code, set_language, show, sms_frame
from integrations.gsm import char_units

HELP = ("Type a code such as *126# to dial, then your replies. Commands: /as NUMBER (switch subscriber),"
        " /lang en|zh_Hans (the subscriber's language, as the account menu sets it), /help, /quit")
LANGUAGES = ("en", "zh_Hans")


def budget_use(text: str, gsm7_budget: int, ucs2_budget: int) -> tuple[str, int, int]:
    """(encoding, units used, the USSD budget of that encoding): what `sim` and the console's phone show."""
    encoding, sizes = char_units(text)
    return encoding, sum(sizes), gsm7_budget if encoding == "GSM-7" else ucs2_budget


def frame(reply: Reply, gsm7_budget: int, ucs2_budget: int) -> str:
    """The screen as the handset shows it, with what it costs against the USSD budget."""
    text = show(reply)
    encoding, used, budget = budget_use(reply.text, gsm7_budget, ucs2_budget)
    width = max(len(line) for line in text.splitlines())
    rule = "-" * min(max(width, 20), 40)
    return f"{rule}\n{text}\n{rule}\n[{encoding} {used}/{budget}]"


class Console:
    def __init__(self, dispatcher: Dispatcher, msisdn: str, budgets: tuple[int, int], region: str = "CN",
                 codes: tuple[str, ...] = ("*126#",), handsets: Handsets | None = None,
                 out: Callable[[str], None] = print) -> None:
        self.phone = Phone(dispatcher, msisdn)
        self.budgets = budgets
        self.region = region
        self.codes = codes
        self.handsets = handsets
        self.out = out

    @property
    def prompt(self) -> str:
        return f"{self.phone.msisdn} > "

    async def line(self, text: str) -> bool:
        """Handle one typed line; False when the tester quits."""
        text = text.strip()
        if text in ("/quit", "/exit"):
            return False
        try:
            if text.startswith("/"):
                await self._command(text)
            elif text.startswith("*") and text.endswith("#"):
                self._show(await self.phone.dial(check_code(text, self.codes)))
            elif text or self.phone.ref:
                self._show(await self.phone.send(text))
        except (NoSession, UnknownCode, BadNumber) as exc:
            self.out(str(exc))
        return True

    def _show(self, reply: Reply) -> None:
        self.out(frame(reply, *self.budgets))
        for sms in self.handsets.take(self.phone.msisdn) if self.handsets else []:
            self.out(sms_frame(sms))

    async def _command(self, text: str) -> None:
        verb, _, arg = text.partition(" ")
        arg = arg.strip()
        if verb == "/as":
            self.phone = Phone(self.phone.dispatcher, normalise(arg, self.region))
            self.out(f"now dialling as {self.phone.msisdn}")
        elif verb == "/lang" and arg in LANGUAGES:
            msisdn = self.phone.msisdn
            if await set_language(self.phone.dispatcher, msisdn, arg):
                self.out(f"language of {msisdn} set to {arg}: the next screen is in it")
            else:
                self.out(f"{msisdn} is not a subscriber: no language to set")
        else:
            self.out(HELP)


class LoopThread:
    """An event loop on a thread of its own. The main thread blocks in input() and so receives Ctrl-C
    and end of input itself (a reader in the loop's executor would keep the process waiting for Enter
    after Ctrl-C); the loop keeps the dispatcher, and in SMS mode the gateway listener, running."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sim-loop", daemon=True)

    def __enter__(self) -> "LoopThread":
        self.thread.start()
        return self

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the loop and wait for it here; Ctrl-C while waiting cancels it."""
        future: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


def repl(loop: LoopThread, line: Callable[[str], Awaitable[bool]], prompt: Callable[[], str],
         read: Callable[[str], str] = input) -> int:
    """Read lines on this thread until /quit or end of input (0) or Ctrl-C (130): never a traceback."""
    try:
        while True:
            try:
                text = read(prompt())
            except EOFError:
                print()
                return 0
            if not loop.run(line(text)):
                return 0
    except KeyboardInterrupt:
        print()
        return 130
