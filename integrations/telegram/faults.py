"""The simulator's misbehaviour and limits: latency, 5xx, flood (429 with retry_after), held requests,
duplicated update deliveries, and Telegram's own send limits (~30 messages a second per bot, ~1 a
second per chat with short bursts), each answered the way Telegram answers it."""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field, fields
from http import HTTPStatus
from typing import Any

from integrations.telegram import ApiError, too_many

SENDING = frozenset({"sendmessage", "editmessagetext"})  # the calls Telegram's send limits count


@dataclass
class Flood:
    calls: int = 0  # the next N calls get 429
    share: float = 0.0  # and this share of the rest
    retry_after: int = 3


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0  # share of calls answered 5xx with nothing done
    error_status: int = 500
    flood: Flood = field(default_factory=Flood)
    timeout_rate: float = 0.0  # share of calls done, then answered only after `timeout_s` (the client gave up)
    timeout_s: float = 30.0
    methods: list[str] = field(default_factory=list)  # the faults above hit only these methods; empty: all
    duplicate_updates: int = 1  # each update delivered to the webhook this many times
    duplicate_concurrently: bool = False  # all copies at once instead of one after another
    global_per_s: float = 30.0  # Telegram's send limits; 0 turns one off
    chat_per_s: float = 1.0
    chat_burst: int = 5

    def merged(self, changes: dict[str, Any]) -> Faults:
        """These faults with `changes` applied (a partial `flood` keeps its other fields); unknown keys raise."""
        if not isinstance(changes, dict):
            raise ValueError("faults are a JSON object")
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        values = {**asdict(self), **changes}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(current, bool) and not isinstance(value, bool):
                raise ValueError(f"{name} is true or false")
            if isinstance(current, (int, float)) and not isinstance(current, bool):
                values[name] = type(current)(value)  # "5" is 5; "soon" is refused
        flood = {**asdict(self.flood), **(changes.get("flood") or {})}
        values["flood"] = Flood(int(flood["calls"]), float(flood["share"]), int(flood["retry_after"]))
        values["methods"] = [str(m).lower() for m in values["methods"]]
        return Faults(**values)

    def hits(self, method: str) -> bool:
        return not self.methods or method.lower() in self.methods


class Bucket:
    """A token bucket: `burst` sends at once, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, now

    def wait(self, now: float) -> float:
        """Seconds until a send is allowed (0: allowed now; `take` it if it goes)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class Limits:
    """Decides, before a method runs, whether Telegram would refuse it; keeps no I/O."""

    def __init__(self, seed: int = 12580) -> None:
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.global_bucket: Bucket | None = None
        self.chat_buckets: dict[int, Bucket] = {}

    def set(self, changes: dict[str, Any]) -> Faults:
        self.faults = self.faults.merged(changes)
        self.global_bucket, self.chat_buckets = None, {}  # new rates start with full buckets
        return self.faults

    def refuse(self, method: str) -> ApiError | None:
        """A 5xx or a flood 429 this call gets instead of an answer, if any."""
        f = self.faults
        if not f.hits(method):
            return None
        if f.error_rate and self.rng.random() < f.error_rate:
            return ApiError(f.error_status, _phrase(f.error_status))
        if f.flood.calls > 0:
            f.flood.calls -= 1
            return too_many(f.flood.retry_after)
        if f.flood.share and self.rng.random() < f.flood.share:
            return too_many(f.flood.retry_after)
        return None

    def hold(self, method: str) -> float:
        """Seconds to hold this call's answer past the client's patience (0: answer at once)."""
        f = self.faults
        return f.timeout_s if f.hits(method) and f.timeout_rate and self.rng.random() < f.timeout_rate else 0.0

    def throttle(self, method: str, chat_id: Any, now: float) -> ApiError | None:
        """Telegram's send limits: a message over the bot's or the chat's rate gets 429 and is not sent."""
        if method.lower() not in SENDING:
            return None
        f, buckets = self.faults, []
        if f.global_per_s > 0:
            self.global_bucket = self.global_bucket or Bucket(f.global_per_s, f.global_per_s, now)
            buckets.append(self.global_bucket)
        if f.chat_per_s > 0:
            key = _chat_key(chat_id)
            buckets.append(self.chat_buckets.setdefault(key, Bucket(f.chat_per_s, max(1, f.chat_burst), now)))
        wait = max((bucket.wait(now) for bucket in buckets), default=0.0)
        if wait > 0:
            return too_many(max(1, math.ceil(wait)))  # refused: counts against neither limit
        for bucket in buckets:
            bucket.take()
        return None


def _chat_key(chat_id: Any) -> int:
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return 0


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Internal Server Error"
