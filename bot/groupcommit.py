"""Group commit: writes asked for by concurrent requests within a few milliseconds go to the database in
one transaction, and each caller is answered only after that transaction commits, so durability before
the answer is kept while a burst pays one transaction (and one thread hop) per batch instead of one per
message. A batch that fails is tried again item by item, each in its own transaction: one bad item fails
alone, and when the database is down every waiting caller gets the error and nothing is stored.

The same batching serves hot reads (`read`): the primary-key lookups of concurrent turns become one
set-based statement, run on the event loop as single lookups were."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Sequence, TypeVar

import structlog
from sqlalchemy.engine import Connection, Engine

from integrations.sqltx import write

log = structlog.get_logger()
I = TypeVar("I")
R = TypeVar("R")
Run = Callable[[Engine, Callable[[Connection], list]], Awaitable[list]]


async def in_transaction(db: Engine, work: Callable[[Connection], list]) -> list:
    """A write: one transaction (retried when the database says so), off the event loop."""
    return await asyncio.to_thread(write, db, work)


async def read(db: Engine, work: Callable[[Connection], list]) -> list:
    """A batch of indexed reads, on the event loop: cheaper than a thread hop, as one such read always was."""
    with db.connect() as conn:
        return work(conn)


class GroupCommit(Generic[I, R]):
    """`await commit(item)` returns `work`'s result for that item once the batch holding it committed.

    One batch is written at a time: items arriving while it is written wait and form the next one, so
    batches grow with the load and a lone item waits only `linger_s`."""

    def __init__(self, db: Engine, work: Callable[[Connection, Sequence[I]], list[R]], name: str,
                 linger_s: float = 0.001, max_batch: int = 100, run: Run = in_transaction) -> None:
        self.db = db
        self.work = work  # the batch's writes in the given transaction; one result per item, in order
        self.run = run
        self.name = name  # for logs
        self.linger_s = linger_s  # the first item of a quiet moment waits this long for company
        self.max_batch = max_batch
        self._waiting: list[tuple[I, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def __call__(self, item: I) -> R:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        return await future  # a caller that gives up cancels only its own answer: its item is written anyway

    async def _write_all(self) -> None:
        try:
            await asyncio.sleep(self.linger_s)
            while self._waiting:
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: list[tuple[I, asyncio.Future]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self.run(self.db, lambda conn: self.work(conn, items))
        except Exception as exc:
            if len(batch) == 1:
                return answer(batch[0][1], error=exc)
            log.warning("group_commit_split", group=self.name, items=len(batch), error=type(exc).__name__)
            for one in batch:  # each alone: the bad one fails by itself, the others are stored
                await self._write([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            answer(future, result)

    async def drain(self) -> None:
        """At shutdown: finish the batch being written and those waiting."""
        if self._writer is not None:
            await asyncio.shield(self._writer)


def answer(future: asyncio.Future, result: object = None, error: BaseException | None = None) -> None:
    """Resolve a waiting caller's future, unless the caller is gone."""
    if future.done():  # its caller is gone (cancelled): the item is written all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
