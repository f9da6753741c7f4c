"""Database plumbing shared by every layer: one engine per URL (SQLite tuned for concurrent readers), and
write transactions that survive contention: retried on SQLite busy errors and PostgreSQL deadlocks."""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from typing import Callable, Iterator, TypeVar

from pathlib import Path

from sqlalchemy import Select, event, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlmodel import create_engine
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
            with engine.connect() as conn:
                conn.execution_options(write=True)  # SQLite: BEGIN IMMEDIATE, see _sqlite_begin
                with conn.begin():
                    return work(conn)
        except (OperationalError, DBAPIError) as exc:
            if attempt == attempts - 1 or not any(m in str(exc.orig).lower() for m in RETRYABLE):
                raise
            time.sleep(random.uniform(0.002, 0.02) * (attempt + 1))
    raise AssertionError("unreachable")


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for the URL; SQLite gets WAL and a busy timeout so readers never block the writer."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10}, hide_parameters=True)
    else:
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                               hide_parameters=True)  # bound values are phone numbers and texts: never in an error
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    """Python's sqlite3 opens a transaction only at the first INSERT/UPDATE/DELETE, so a read before
    the first write (today's transfers before a debit) ran outside it. We emit BEGIN ourselves, and a
    `write()` takes the write lock up front (BEGIN IMMEDIATE): what it reads cannot change under it."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin, not by the driver


def upsert(conn: Connection, table, keys: list[str], values: dict, changes: dict):
    """INSERT ... ON CONFLICT (keys) DO UPDATE, in the dialect at hand (SQLite and PostgreSQL both have
    it): one statement, so two writers of the same key never collide."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=changes)


PAGE = 5_000  # rows per keyset page: a million-row read never holds one list, nor one connection for long


def pages(engine: Engine, query: Select, keys: tuple, size: int = PAGE) -> Iterator[list]:
    """The rows of `query` in pages of `size`, ordered by `keys` (columns that together are unique), each page
    read after the last one's keys (keyset, not OFFSET: every page costs the same), on a connection of its own,
    so a caller that sends between pages holds nothing open."""
    after = None
    while True:
        page = query.order_by(*keys).limit(size)
        if after is not None:
            page = page.where(tuple_(*keys) > tuple_(*after) if len(keys) > 1 else keys[0] > after[0])
        with engine.connect() as conn:
            rows = conn.execute(page).all()
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = tuple(rows[-1]._mapping[key] for key in keys)
