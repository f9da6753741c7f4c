"""The session: a small serialisable value, one per subscriber conversation."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Value = str | int | bool | None
Location = tuple[str, str]  # (flow, state)


@dataclass(frozen=True)
class Session:
    """Where a subscriber is in a flow and what they entered so far.

    `hops` counts the inputs applied in the current channel session (a replayed hop is recognised by
    it); `version` grows on every save so a stale write can be refused.
    """

    msisdn: str
    ref: str  # the channel's session id (USSD sessionId, SMS conversation, chat id)
    flow: str
    state: str
    lang: str
    updated: float  # epoch seconds of the last input
    values: dict[str, Value] = field(default_factory=dict)
    stack: tuple[Location, ...] = ()
    page: int = 0
    errors: int = 0
    error: str | None = None  # message id of the one-line error shown on the current screen
    hops: int = 0
    version: int = 0
    ended: bool = False
    resume: bool = False  # showing the "continue where you left off" question
    started: float = 0.0  # when this conversation began; kept across a resume (idempotency keys use it)
    tier: str = ""  # the subscriber's tier and time zone as loaded when the conversation began, so a
    tz: str = ""  # hop inside it reads no database ("" in sessions written before they were kept)

    @property
    def location(self) -> Location:
        return (self.flow, self.state)

    def evolve(self, **changes: Any) -> "Session":
        """A copy with some fields changed; `dataclasses.replace` re-runs __init__ (~10 µs, several
        times a hop), a dict copy does the same job for a plain frozen record."""
        new = object.__new__(Session)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new


_KEYS = {
    "msisdn": "m", "ref": "r", "flow": "f", "state": "s", "lang": "l", "updated": "u", "values": "v",
    "stack": "k", "page": "p", "errors": "e", "error": "x", "hops": "h", "version": "n", "ended": "z",
    "resume": "q", "started": "b", "tier": "t", "tz": "y",
}
_NAMES = {v: k for k, v in _KEYS.items()}
_DEFAULTS = {"values": {}, "stack": (), "page": 0, "errors": 0, "error": None, "hops": 0, "version": 0,
             "ended": False, "resume": False, "started": 0.0, "tier": "", "tz": ""}


def dumps(session: Session) -> str:
    """Compact JSON: short keys, defaults left out (memory per idle session matters at scale)."""
    out: dict[str, Any] = {}
    for name, key in _KEYS.items():
        value = getattr(session, name)
        if name in _DEFAULTS and value == _DEFAULTS[name]:
            continue
        out[key] = [list(loc) for loc in value] if name == "stack" else value
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def loads(raw: str | bytes) -> Session:
    data = json.loads(raw)
    kwargs = {_NAMES[k]: v for k, v in data.items()}
    kwargs["stack"] = tuple(tuple(loc) for loc in kwargs.get("stack", ()))
    return Session(**kwargs)
