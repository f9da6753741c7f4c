"""Group commits on SQLite and PostgreSQL: concurrent callers share one transaction, each is answered only
after it committed, a bad item fails alone, and a database that refuses fails every caller and stores
nothing."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from bot.db import make_engine
from bot.groupcommit import GroupCommit, read

META = MetaData()
NOTE = Table("gc_note", META, Column("id", Integer, primary_key=True), Column("key", String(16), unique=True))


@pytest.fixture
def engine(sql_url):
    engine = make_engine(sql_url)
    META.create_all(engine)
    yield engine
    engine.dispose()


def add_notes(conn, keys: list[str]) -> list[int]:
    for key in keys:
        conn.execute(insert(NOTE).values(key=key))
    found = dict(conn.execute(select(NOTE.c.key, NOTE.c.id)).all())
    return [found[k] for k in keys]


def stored(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(NOTE.c.key)).scalars())


def commits(engine) -> list[int]:
    seen: list[int] = []
    event.listen(engine, "commit", lambda conn: seen.append(1))
    return seen


async def test_concurrent_items_share_one_transaction_and_each_gets_its_own_result(engine):
    notes, done = GroupCommit(engine, add_notes, "notes"), commits(engine)
    keys = [f"k{n}" for n in range(20)]
    ids = await asyncio.gather(*[notes(k) for k in keys])
    assert len(done) <= 2 and stored(engine) == sorted(keys)
    with engine.connect() as conn:
        assert dict(conn.execute(select(NOTE.c.key, NOTE.c.id)).all()) == dict(zip(keys, ids))


async def test_a_caller_is_answered_only_after_its_batch_committed(engine):
    """What the caller is told is already durable: a fresh connection sees it at once."""
    notes = GroupCommit(engine, add_notes, "notes")
    await notes("durable")
    other = make_engine(str(engine.url))
    with other.connect() as conn:
        assert conn.execute(select(NOTE.c.key)).scalars().all() == ["durable"]
    other.dispose()


async def test_a_bad_item_fails_alone_and_the_others_of_its_batch_are_stored(engine):
    notes = GroupCommit(engine, add_notes, "notes")
    await notes("taken")
    results = await asyncio.gather(*[notes(k) for k in ["a", "taken", "b", "c"]], return_exceptions=True)
    assert isinstance(results[1], IntegrityError)
    assert all(isinstance(r, int) for i, r in enumerate(results) if i != 1)
    assert stored(engine) == ["a", "b", "c", "taken"]


async def test_a_database_that_refuses_fails_every_waiting_caller_and_stores_nothing(engine):
    notes = GroupCommit(engine, add_notes, "notes")
    NOTE.drop(engine)  # every write of the batch, and of each item alone, is refused
    results = await asyncio.gather(*[notes(f"k{n}") for n in range(5)], return_exceptions=True)
    assert all(isinstance(r, (OperationalError, ProgrammingError)) for r in results)
    NOTE.create(engine)
    assert stored(engine) == []


async def test_a_caller_that_gives_up_does_not_stop_the_others(engine):
    notes = GroupCommit(engine, add_notes, "notes", linger_s=0.05)
    gone = asyncio.ensure_future(notes("gone"))
    kept = asyncio.ensure_future(notes("kept"))
    await asyncio.sleep(0.01)
    gone.cancel()
    assert isinstance(await kept, int)
    assert stored(engine) == ["gone", "kept"]  # its item was in the batch: written all the same


async def test_reads_are_batched_too(engine):
    notes = GroupCommit(engine, add_notes, "notes")
    await asyncio.gather(*[notes(k) for k in ["x", "y"]])
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def ids(conn, keys):
        found = dict(conn.execute(select(NOTE.c.key, NOTE.c.id).where(NOTE.c.key.in_(keys))).all())
        return [found.get(k) for k in keys]

    lookup = GroupCommit(engine, ids, "ids", linger_s=0, run=read)
    found = await asyncio.gather(*[lookup(k) for k in ["x", "nobody", "y"]])
    assert found[1] is None and None not in (found[0], found[2])
    assert len([s for s in statements if "gc_note" in s]) == 1
