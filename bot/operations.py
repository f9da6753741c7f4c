"""Carry out a flow's `Call` against the partners: in a thread, within a timeout, never raising."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Mapping

import structlog

from bot.engine.flow import Call, Outcome
from jobs.metrics import PARTNER_FAILURES, PARTNER_SECONDS

log = structlog.get_logger()

Operation = Callable[[Any, Call], Outcome]  # (services, call) -> outcome; synchronous, idempotent by key
FAILED = Outcome("failed")


class Operations:
    """The table of operations flows may call, and how they are run."""

    def __init__(self, table: Mapping[str, Operation], timeout: float = 5.0) -> None:
        self.table = dict(table)
        self.timeout = timeout

    async def run(self, call: Call, services: Any) -> Outcome:
        """The outcome of a call; a partner that fails or times out gives "failed", and since every
        operation is idempotent by `call.key`, trying again later cannot apply it twice."""
        operation, started = self.table[call.operation], time.perf_counter()
        try:
            return await asyncio.wait_for(asyncio.to_thread(operation, services, call), self.timeout)
        except TimeoutError:
            log.warning("call_timed_out", operation=call.operation)
            PARTNER_FAILURES.labels(call.operation, "timeout").inc()
        except Exception as exc:  # a partner's failure must not become a stack trace on a handset
            log.warning("call_failed", operation=call.operation, error=type(exc).__name__)
            PARTNER_FAILURES.labels(call.operation, "error").inc()
        finally:
            PARTNER_SECONDS.labels(call.operation).observe(time.perf_counter() - started)
        return FAILED
