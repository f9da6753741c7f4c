"""Tee-sheet availability reused for a few seconds.

Every page of a ~90-slot tee-time list, and every subscriber looking at the same course and day, would
otherwise read the partner's tee sheet again: on the USSD hop that read was the largest cost after the
Redis client's own. A list a few seconds old is safe: a tee time taken meanwhile is refused when it is
held ("that tee time was just taken"), never booked twice. Writes through this process drop the cache
at once, so a subscriber never sees their own booking's tee time still free.
"""
from __future__ import annotations

import threading
import time
from datetime import date, datetime
from typing import Any, Callable, Iterator

from cachetools import TTLCache

from integrations.golf import Booking, HoldResult, TeeSheets


class CachedTeeSheets:
    """A `TeeSheets` whose free-slot reads are kept for `seconds`, keyed by course, day and the minute
    of `now` (today's past tee times drop out on the minute, and a test clock that jumps misses)."""

    def __init__(self, inner: TeeSheets, seconds: float, timer: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self._cache: TTLCache = TTLCache(maxsize=4096, ttl=seconds, timer=timer)
        self._lock = threading.Lock()  # partner writes and the in-process RQ worker run in other threads
        self._writes = 0  # a read that a write overtook is not kept

    def free_slots(self, course_id: int, day: date, now: datetime) -> list[int]:
        key = (course_id, day, now.replace(second=0, microsecond=0))
        with self._lock:
            found, writes = self._cache.get(key), self._writes
        if found is None:
            found = tuple(self.inner.free_slots(course_id, day, now))
            with self._lock:
                if writes == self._writes:
                    self._cache[key] = found
        return list(found)

    def bookings_on(self, day: date) -> Iterator[tuple[str, Booking]]:
        return self.inner.bookings_on(day)  # never kept: a reminder reads the bookings as they are

    def hold(self, *args: Any, **kwargs: Any) -> HoldResult:
        return self._write(self.inner.hold, *args, **kwargs)

    def confirm(self, *args: Any, **kwargs: Any) -> Booking | None:
        return self._write(self.inner.confirm, *args, **kwargs)

    def release(self, *args: Any, **kwargs: Any) -> None:
        return self._write(self.inner.release, *args, **kwargs)

    def cancel(self, *args: Any, **kwargs: Any) -> Booking | None:
        return self._write(self.inner.cancel, *args, **kwargs)

    def _write(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A write, then every kept read dropped, whether it worked or not (a refused hold means the read
        it came from was stale)."""
        try:
            return call(*args, **kwargs)
        finally:
            self.forget()

    def forget(self) -> None:
        """Drop every kept read: a write knows its booking key, not always its course and day."""
        with self._lock:
            self._cache.clear()
            self._writes += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the other reads (courses, bookings, ...) are not kept
