"""What `shortcode sim` runs: transcripts, each on a scratch database; the USSD terminal phone; the SMS
handset on the simulated gateway. The main thread reads the keyboard, so Ctrl-C and end of input end
the session quietly."""
from __future__ import annotations

import glob
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Awaitable, Callable

import yaml

from bot.tools import transcripts
from bot.wiring import Core
from bot.settings import Settings


def expand(patterns: list[str]) -> list[Path]:
    """The paths given, with shell-style patterns expanded (for a shell that left `*.yaml` alone)."""
    paths: list[Path] = []
    for pattern in patterns:
        found = [] if Path(pattern).exists() else sorted(glob.glob(pattern))
        paths += [Path(p) for p in found] or [Path(pattern)]
    return paths


async def replay_all(patterns: list[str], core: Core, echo: Callable[[str], None] | None = None,
                     replay: Callable[..., Awaitable[transcripts.Mismatch | None]] = transcripts.replay) -> int:
    """One line a transcript (its diff on stderr when it fails); 1 if any failed. `replay` plays one: on
    USSD (`transcripts.replay`) or on Telegram (`tg_transcripts.replay`)."""
    paths, failed = expand(patterns), 0
    for path in paths:
        try:
            miss = await replay(path, core, echo=echo)
        except (OSError, yaml.YAMLError, transcripts.TranscriptError) as exc:
            print(f"ERROR {path}: {exc}")
            failed += 1
            continue
        if miss:
            print(f"FAIL  {path}: step {miss.step} does not match")
            print(miss.report(), file=sys.stderr)
            failed += 1
        else:
            print(f"ok    {path}: every expectation held")
    if len(paths) > 1:
        print(f"{len(paths) - failed} of {len(paths)} transcripts passed")
    return 1 if failed else 0


def ussd_phone(core: Core, msisdn: str) -> int:
    """The terminal phone on the configured database; confirming screens arrive as texts."""
    from bot.tools.console import HELP, Console, LoopThread, repl
    from bot.tools.local import local_dispatcher
    from bot.outbound import Confirmations
    from bot.tools.phone import Handsets

    s = core.settings
    handsets = Handsets(s.sms.short_code)
    with LoopThread() as loop:
        stack = AsyncExitStack()
        confirmations = Confirmations(handsets, core.catalogs)
        dispatcher = loop.run(stack.enter_async_context(local_dispatcher(core, redis_url=s.redis.url,
                                                                         confirmations=confirmations)))
        try:
            console = Console(dispatcher, msisdn, (s.ussd.gsm7_budget, s.ussd.ucs2_budget), s.service.region,
                              core.menus.codes, handsets)
            print(HELP)
            return repl(loop, console.line, lambda: console.prompt)
        finally:
            loop.run(stack.aclose())


def telegram_chat(core: Core, msisdn: str) -> int:
    """The terminal Telegram chat on the configured database, linked to `msisdn` to begin with."""
    from bot.tools.console import LoopThread, repl
    from bot.tools.local import local_dispatcher
    from bot.tools.tg_console import HELP, TelegramConsole

    with LoopThread() as loop:
        stack = AsyncExitStack()
        dispatcher = loop.run(stack.enter_async_context(local_dispatcher(core, redis_url=core.settings.redis.url,
                                                                         channel="telegram")))
        try:
            console = TelegramConsole(core, dispatcher, core.settings.service.region)
            print(HELP)
            loop.run(console.start(msisdn))
            return repl(loop, console.line, lambda: console.prompt)
        finally:
            loop.run(stack.aclose())


def sms_handset(settings: Settings, msisdn: str) -> int:
    """The handset on the simulated gateway; 1 with one line when the gateway does not answer."""
    from aiohttp import ClientSession, ClientTimeout

    from bot.tools.console import LoopThread, repl
    from bot.tools.sms_console import HELP, GatewayDown, SmsConsole

    s = settings.sms
    with LoopThread() as loop:
        async def open_console() -> SmsConsole:
            http = ClientSession(timeout=ClientTimeout(total=10))
            console = SmsConsole(http, s.gateway_url, msisdn, s.short_code, settings.service.region,
                                 notify=lambda text: _notify(text, console.prompt))
            try:
                await console.start()
            except GatewayDown:
                await http.close()
                raise
            return console

        async def close(console: SmsConsole) -> None:
            await console.stop()
            await console.http.close()

        try:
            console = loop.run(open_console())
        except GatewayDown as exc:
            print(exc, file=sys.stderr)
            return 1
        try:
            print(HELP)
            return repl(loop, console.line, lambda: console.prompt)
        finally:
            loop.run(close(console))


def _notify(text: str, prompt: str) -> None:
    """A message that arrives while the tester may be typing: on a terminal, above the prompt."""
    if sys.stdout.isatty():
        print(f"\r\033[K{text}\n{prompt}", end="", flush=True)
    else:
        print(text, flush=True)
