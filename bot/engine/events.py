"""What happened in a turn, as data. The dispatcher acts on these after the engine returns."""
from __future__ import annotations

from dataclasses import dataclass

from bot.engine.text import T


@dataclass(frozen=True)
class Event:
    """Base of every event; names are in the past tense."""


@dataclass(frozen=True)
class SessionStarted(Event):
    service_code: str


@dataclass(frozen=True)
class SessionResumed(Event):
    flow: str
    state: str


@dataclass(frozen=True)
class SessionEnded(Event):
    reason: str  # "completed", "too_many_errors", "timed_out", "not_subscriber"


@dataclass(frozen=True)
class InputRejected(Event):
    state: str
    wrong_in_a_row: int


@dataclass(frozen=True)
class LanguageChanged(Event):
    lang: str


@dataclass(frozen=True)
class CallCompleted(Event):
    state: str
    outcome: str


@dataclass(frozen=True)
class ConfirmationShown(Event):
    """A screen that confirms a booking, payment or transfer; on USSD it is also sent by SMS."""

    text: T
