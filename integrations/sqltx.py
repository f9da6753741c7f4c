"""Write transactions that survive contention: retried on SQLite busy errors and PostgreSQL deadlocks."""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from typing import Callable, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

R = TypeVar("R")
RETRYABLE = ("database is locked", "deadlock detected", "could not serialize", "database table is locked")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def utc(moment: datetime) -> datetime:
    """Times go to the database in UTC: SQLite keeps no offset, so mixed zones would compare wrongly."""
    return moment.astimezone(timezone.utc)


def write(engine: Engine, work: Callable[[Connection], R], attempts: int = 8) -> R:
    """Run `work` in one transaction; retry it whole when the database says try again."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                return work(conn)
        except (OperationalError, DBAPIError) as exc:
            if attempt == attempts - 1 or not any(m in str(exc.orig).lower() for m in RETRYABLE):
                raise
            time.sleep(random.uniform(0.002, 0.02) * (attempt + 1))
    raise AssertionError("unreachable")
