"""The shapes a flow is built from: states of screens, choices, and the view they are drawn from."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Literal, Mapping, Sequence, Union

from bot.engine.events import Event
from bot.engine.session import Value
from bot.engine.text import T

TIERS = ("regular", "silver", "gold", "diamond")


@dataclass(frozen=True)
class Profile:
    """What the engine may know of a subscriber: a snapshot loaded at the edge for each turn."""

    msisdn: str
    name: str
    tier: str
    lang: str
    timezone: str

    def at_least(self, tier: str) -> bool:
        return TIERS.index(self.tier) >= TIERS.index(tier)


@dataclass(frozen=True)
class View:
    """Everything a screen may be computed from: the subscriber, the values collected, the local time,
    and read-only partner queries (`services`), handed in by the edge."""

    profile: Profile
    values: Mapping[str, Value]
    now: datetime  # aware, in the subscriber's time zone
    services: Any = None
    conversation: str = ""  # stable for one conversation, across a resume on a new dial
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """A partner read done once per screen, however many parts of the screen need it."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def op_key(self, operation: str) -> str:
        """An idempotency key that is the same for every retry of one operation in one conversation."""
        facts = "|".join(f"{k}={self.values[k]}" for k in sorted(self.values))
        digest = hashlib.sha256(f"{self.profile.msisdn}|{self.conversation}|{operation}|{facts}".encode()).hexdigest()
        return f"{operation}:{digest[:24]}"


@dataclass(frozen=True)
class Call:
    """A change in the outside world a flow asks for; the dispatcher carries it out between two engine
    calls and hands back an `Outcome`. `key` makes a retry return the first result."""

    operation: str  # "points.redeem", "golf.book", ...
    key: str
    args: tuple[tuple[str, Value], ...] = ()

    @property
    def kwargs(self) -> dict[str, Value]:
        return dict(self.args)


@dataclass(frozen=True)
class Outcome:
    """How a call went: a name the flow routes on ("ok", "insufficient_points", "failed") and values."""

    name: str
    values: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class Screen:
    """A screen before it is fitted to a channel: text as `T`, options in order."""

    kind: Literal["menu", "input", "info", "end"]
    title: T
    options: tuple[T, ...] = ()
    error: T | None = None
    back: bool = True  # show the "0 Back / 00 Main menu" hint
    numbered: bool = True  # options are choices; False for lines of a list (paged all the same)
    reserve: tuple[T, ...] = ()  # the error lines it may carry: pages leave room for the widest, so they
    #                              hold the same options whichever (if any) is on top

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
    """Information with a way back: CON on USSD, only navigation is accepted. `items` are lines of a
    list (a ledger, bookings) that page with 98/99 like options but are not choices."""

    text: Callable[[View], T]
    exits: tuple[str, ...] = ()
    items: Callable[[View], Sequence[T]] | None = None
    confirms: bool = False  # a booking code, a payment: a USSD screen vanishes, so it is also sent by SMS


@dataclass(frozen=True)
class End:
    """A final screen: the session ends when it is shown."""

    text: Callable[[View], T]
    exits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Act:
    """A step with an effect: asks for a `Call`, then goes where its outcome says. An outcome with no
    route ("failed" included) returns to the previous screen with an apology: nothing is lost."""

    call: Callable[[View], Call]
    outcomes: Mapping[str, str]

    @property
    def exits(self) -> tuple[str, ...]:
        return tuple(self.outcomes.values())


@dataclass(frozen=True)
class Route:
    """A decision with no screen: entering it goes straight on to the state `decide` names."""

    decide: Callable[[View], str]
    exits: tuple[str, ...]


State = Union[Menu, Ask, Show, End, Act, Route]


@dataclass(frozen=True)
class Flow:
    """A service product's dialogue: named states and the one it starts in."""

    name: str
    start: str
    states: Mapping[str, State] = field(default_factory=dict)
    samples: tuple[Mapping[str, Value], ...] = ({},)  # collected values `shortcode lint` renders with
    entries: tuple[str, ...] = ()  # states entered from outside the flow (a reminder's reply), reachable too


def target(goto: str, flow: str) -> tuple[str, str]:
    """Resolve a goto: "state" (same flow), "flow:NAME" (its start) or "NAME.state"."""
    if goto.startswith("flow:"):
        return goto[5:], ""
    if "." in goto:
        name, state = goto.split(".", 1)
        return name, state
    return flow, goto
