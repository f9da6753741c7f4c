"""Background tasks of the web process (answering a stored SMS after its 200), kept referenced until
they finish and awaited at shutdown, as asyncio's docs ask."""
from __future__ import annotations

import asyncio
from typing import Any, Coroutine

import structlog

log = structlog.get_logger()


class Background:
    def __init__(self, limit: int = 64) -> None:
        self.tasks: set[asyncio.Task] = set()
        self.slots = asyncio.Semaphore(limit)  # a burst of inbound SMS waits here, not in the Redis pool

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._bounded(work))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    async def _bounded(self, work: Coroutine[Any, Any, Any]) -> Any:
        async with self.slots:
            return await work

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background_task_failed", error=type(task.exception()).__name__)

    async def drain(self, timeout: float = 10) -> None:
        """Let running work finish at shutdown; what does not is found again by the re-scan."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
