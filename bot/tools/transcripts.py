"""Recorded conversations (tests/transcripts/*.yaml): dial, send, expect, replayed on a phone.

Steps: `dial: CODE`, `send: TEXT`, `expect: SCREEN` (exact, with CON/END), `expect_contains: TEXT or
[TEXTS]`, `expect_sms: TEXT or [TEXTS]` (in a text the last dial or send brought to the handset),
`wait: SECONDS` (advances the clock), `as: NUMBER`, `lang: zh_Hans|en` (the subscriber's),
`partner: "NAME down"` or `"NAME up"` (a simulated partner stops or starts answering).

`replay` plays one on a scratch database, store and clock of its own (`bot.tools.local.scratch_dispatcher`).
"""
from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.dispatcher import Dispatcher, Reply
from bot.tools.local import scratch_dispatcher
from bot.msisdn import BadNumber, normalise
from bot.outbound import Confirmations
from bot.tools.phone import Handsets, NoSession, Phone, UnknownCode, check_code, set_language, show, sms_frame
from bot.wiring import Core

DEFAULT_NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


class TranscriptError(ValueError):
    """The transcript file itself is malformed."""


@dataclass
class Clock:
    """A clock the transcript moves: fixed, then advanced by `wait` steps."""

    now: datetime = DEFAULT_NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Mismatch:
    path: str
    step: int
    expected: str
    actual: str

    def report(self) -> str:
        diff = difflib.unified_diff(self.expected.splitlines(), self.actual.splitlines(),
                                    "expected", "actual", lineterm="")
        return f"{self.path}: step {self.step} does not match\n" + "\n".join(diff)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise TranscriptError(f"{path}: needs a mapping with a 'steps' list")
    return data


def _number(path: Path, raw: Any, region: str) -> str:
    try:
        return normalise(str(raw), region)
    except BadNumber as exc:
        raise TranscriptError(f"{path}: {raw}: {exc}") from None


def clock_for(data: dict[str, Any]) -> Clock:
    raw = data.get("now")
    if raw is None:
        return Clock()
    now = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    if now.tzinfo is None:
        raise TranscriptError("'now' needs a time zone offset")
    return Clock(now)


def _exact(arg: Any, screen: str, texts: list[str]) -> tuple[str, str] | None:
    expected = str(arg).rstrip("\n")
    return None if screen == expected else (expected, screen)


def _contains(seen: str, arg: Any) -> tuple[str, str] | None:
    missing = next((part for part in ([arg] if isinstance(arg, str) else arg) if part not in seen), None)
    return None if missing is None else (f"... {missing} ...", seen)


EXPECTATIONS = {  # verb -> (expected, actual) when it does not hold
    "expect": _exact,
    "expect_contains": lambda arg, screen, texts: _contains(screen, arg),
    "expect_sms": lambda arg, screen, texts: _contains("\n\n".join(texts) or "(no SMS)", arg),
}


async def replay(path: Path, core: Core, redis_url: str = "embedded", echo=None) -> Mismatch | None:
    """Play a transcript on a fresh demo database and store, at the transcript's time."""
    clock = clock_for(load(path))
    handsets = Handsets(core.settings.sms.short_code)
    confirmations = Confirmations(handsets, core.catalogs)
    async with scratch_dispatcher(core, clock, redis_url, confirmations) as dispatcher:
        return await run(path, dispatcher, clock, echo, core.menus.codes, handsets, core.settings.service.region)


async def run(path: Path, dispatcher: Dispatcher, clock: Clock, echo=None, codes: tuple[str, ...] = ("*126#",),
              handsets: Handsets | None = None, region: str = "CN") -> Mismatch | None:
    """Play a transcript on a dispatcher; the first mismatch, or None when every expectation held."""
    data = load(path)
    refs = itertools.count(1)  # session ids start afresh, so booking codes repeat from run to run
    phone = Phone(dispatcher, _number(path, data.get("subscriber", "+8613800000001"), region), refs)
    if "lang" in data:
        await set_language(dispatcher, phone.msisdn, str(data["lang"]))
    screen, texts = "", []
    for n, step in enumerate(data["steps"], 1):
        if not isinstance(step, dict) or len(step) != 1:
            raise TranscriptError(f"{path}: step {n} must be a mapping with one key")
        (verb, arg), = step.items()
        if verb in ("dial", "send"):
            try:
                reply: Reply = await (phone.dial(check_code(str(arg), codes)) if verb == "dial"
                                      else phone.send(str(arg)))
            except (NoSession, UnknownCode) as exc:
                return Mismatch(str(path), n, "a screen", str(exc))
            screen = show(reply)
            received = handsets.take(phone.msisdn) if handsets else []
            texts = [sms.text for sms in received]
            if echo:
                echo(f"> {arg}\n{screen}\n" + "".join(f"{sms_frame(sms)}\n" for sms in received))
        elif verb in EXPECTATIONS:
            failed = EXPECTATIONS[verb](arg, screen, texts)
            if failed:
                return Mismatch(str(path), n, *failed)
        elif verb == "wait":
            clock.now += timedelta(seconds=float(arg))
        elif verb == "as":
            phone = Phone(dispatcher, _number(path, arg, region), refs)
        elif verb == "lang":
            await set_language(dispatcher, phone.msisdn, str(arg))
        elif verb == "partner":
            name, _, state = str(arg).partition(" ")
            getattr(dispatcher.services, name).faults.down = state == "down"
        else:
            raise TranscriptError(f"{path}: step {n}: unknown verb '{verb}'")
    return None
