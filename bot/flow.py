"""The shapes a flow is built from: states of screens, choices, and the view they are drawn from."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Literal, Mapping, Sequence, Union

from bot.events import Event
from bot.session import Value
from bot.text import T

TIERS = ("regular", "silver", "gold", "diamond")


@dataclass(frozen=True)
class Profile:
    """What the engine may know of a subscriber: a snapshot loaded at the edge for each turn."""

    msisdn: str
    name: str
    tier: str
    lang: str
    timezone: str
    points: int
    balance_fen: int
    bill_fen: int

    def at_least(self, tier: str) -> bool:
        return TIERS.index(self.tier) >= TIERS.index(tier)


@dataclass(frozen=True)
class View:
    """Everything a screen may be computed from: pure data, no connections."""

    profile: Profile
    values: Mapping[str, Value]
    now: datetime  # aware, in the subscriber's time zone


@dataclass(frozen=True)
class Screen:
    """A screen before it is fitted to a channel: text as `T`, options in order."""

    kind: Literal["menu", "input", "info", "end"]
    title: T
    options: tuple[T, ...] = ()
    error: T | None = None
    back: bool = True  # show the "0 Back / 00 Main menu" hint

    @property
    def final(self) -> bool:
        return self.kind == "end"


@dataclass(frozen=True)
class Choice:
    """One numbered option: where it leads, what it records, what it announces."""

    label: T
    goto: str
    values: tuple[tuple[str, Value], ...] = ()
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Invalid:
    """A validator's answer for input it refuses, with the one-line reason shown."""

    reason: T


@dataclass(frozen=True)
class Menu:
    title: Callable[[View], T]
    choices: Callable[[View], Sequence[Choice]]
    exits: tuple[str, ...]  # every goto a choice may take, declared so a flow can be validated


@dataclass(frozen=True)
class Ask:
    prompt: Callable[[View], T]
    parse: Callable[[str, View], Union[Value, Invalid]]
    key: str
    goto: str

    @property
    def exits(self) -> tuple[str, ...]:
        return (self.goto,)


@dataclass(frozen=True)
class Show:
    """Information with a way back: CON on USSD, only navigation is accepted."""

    text: Callable[[View], T]
    exits: tuple[str, ...] = ()


@dataclass(frozen=True)
class End:
    """A final screen: the session ends when it is shown."""

    text: Callable[[View], T]
    exits: tuple[str, ...] = ()


State = Union[Menu, Ask, Show, End]


@dataclass(frozen=True)
class Flow:
    """A service product's dialogue: named states and the one it starts in."""

    name: str
    start: str
    states: Mapping[str, State] = field(default_factory=dict)


def target(goto: str, flow: str) -> tuple[str, str]:
    """Resolve a goto: "state" (same flow), "flow:NAME" (its start) or "NAME.state"."""
    if goto.startswith("flow:"):
        return goto[5:], ""
    if "." in goto:
        name, state = goto.split(".", 1)
        return name, state
    return flow, goto
