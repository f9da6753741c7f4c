"""Handing outbox row ids to RQ from the web process, batched: ids handed off within a few milliseconds
share one job (one RQ job costs ~3 ms, so a job per reply would cap a channel). A failed hand-off (Redis
down, or the process dying with ids pending) only delays rows until the channel's re-scan finds them."""
from __future__ import annotations

import asyncio
from typing import Callable

import structlog

log = structlog.get_logger()


class HandOff:
    def __init__(self, enqueue: Callable[[list[int]], None] | None, batch: int, failed_event: str,
                 queued: Callable[[], None] | None = None, linger_s: float = 0.005) -> None:
        self.enqueue = enqueue  # queues one job for these ids; None: rows wait for the re-scan
        self.batch = batch  # as many ids as one job takes: a full batch goes at once
        self.failed_event = failed_event
        self.queued = queued  # tells an in-process worker to look at the queue now
        self.linger_s = linger_s
        self._pending: list[int] = []
        self._flusher: asyncio.Task | None = None

    async def __call__(self, ids: list[int]) -> None:
        if not ids or self.enqueue is None:
            return
        self._pending += ids
        if len(self._pending) >= self.batch:
            await self._flush()
        elif self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.linger_s)
        self._flusher = None
        await self._flush()

    async def _flush(self) -> None:
        ids, self._pending = self._pending, []
        if not ids:
            return
        try:
            await asyncio.to_thread(self.enqueue, ids)
            if self.queued:
                self.queued()
        except Exception as exc:  # Redis down: the rows stay pending and the re-scan sends them
            log.warning(self.failed_event, error=type(exc).__name__, rows=len(ids))

    async def drain(self) -> None:
        """At shutdown: hand off what is pending now rather than leave it to the re-scan."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self._flush()
