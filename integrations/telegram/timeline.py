"""When things happened in the simulated Telegram, for benchmarks and testers: each update's first POST to
the webhook, and each message Telegram accepted (sendMessage, editMessageText). A reader asks for what
came after the last sequence number it saw, so following it stays cheap; the oldest entries go first."""
from __future__ import annotations

import itertools
from collections import deque
from typing import Any, Callable


class Timeline:
    def __init__(self, clock: Callable[[], float], keep: int = 100_000) -> None:
        self.clock = clock  # wall-clock seconds, as in message dates
        self.events: deque[dict[str, Any]] = deque(maxlen=keep)
        self.total = 0  # the sequence number of the latest event (the first is 1)

    def add(self, event: str, **fields: Any) -> None:
        self.total += 1
        self.events.append({"seq": self.total, "event": event, "at": self.clock(), **fields})

    def after(self, seq: int, limit: int = 10_000) -> list[dict[str, Any]]:
        """Up to `limit` events whose sequence number is above `seq`, oldest first."""
        first = self.total - len(self.events) + 1  # the sequence number of the oldest still kept
        start = max(0, seq + 1 - first)
        return list(itertools.islice(self.events, start, start + max(0, limit)))
