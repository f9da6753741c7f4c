"""Handing outbox row ids to RQ from the web process, batched: ids handed off within a few milliseconds
share one job (one RQ job costs ~3 ms, so a job per reply would cap a channel). A failed hand-off (Redis
down, or the process dying with ids pending) only delays rows until the channel's re-scan finds them."""
from __future__ import annotations

import asyncio
from typing import Callable

import structlog

log = structlog.get_logger()


class HandOff:
    """One enqueue at a time: ids handed off while a job is being queued wait `linger_s` and go together
    in the next, so under load a job carries more ids (a burst of replies queued ~3 ids a job before)."""

    def __init__(self, enqueue: Callable[[list[int]], None] | None, batch: int, failed_event: str,
                 queued: Callable[[], None] | None = None, linger_s: float = 0.005) -> None:
        self.enqueue = enqueue  # queues one job for these ids; None: rows wait for the re-scan
        self.batch = batch  # as many ids as one job takes: a full batch goes without lingering
        self.failed_event = failed_event
        self.queued = queued  # tells an in-process worker to look at the queue now
        self.linger_s = linger_s
        self._pending: list[int] = []
        self._sender: asyncio.Task | None = None
        self._draining = False

    async def __call__(self, ids: list[int]) -> None:
        if not ids or self.enqueue is None:
            return
        self._pending += ids
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        try:
            while self._pending:
                if len(self._pending) < self.batch and not self._draining:
                    await asyncio.sleep(self.linger_s)
                ids, self._pending = self._pending[:self.batch], self._pending[self.batch:]
                await self._send(ids)
        finally:
            self._sender = None

    async def _send(self, ids: list[int]) -> None:
        try:
            await asyncio.to_thread(self.enqueue, ids)
            if self.queued:
                self.queued()
        except Exception as exc:  # Redis down: the rows stay pending and the re-scan sends them
            log.warning(self.failed_event, error=type(exc).__name__, rows=len(ids))

    async def drain(self) -> None:
        """At shutdown: hand off what is pending now rather than leave it to the re-scan."""
        self._draining = True
        if self._sender is not None:
            await self._sender
