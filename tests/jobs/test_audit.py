"""The audit log: a change and its row commit together, rows read back in order, and the database refuses
to rewrite or delete one (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from bot.db import make_engine, upgrade
from integrations.sqltx import write
from jobs.audit import A, Actor, SYSTEM, read, record

NOW = datetime(2026, 12, 2, 12, 55, tzinfo=timezone.utc)
LI = Actor("li.na", "agent", "http 127.0.0.1")


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    yield engine
    engine.dispose()


def test_rows_are_read_back_in_order_with_who_when_what_and_where(engine):
    """Each row keeps actor, role, action, target, source and its detail as data."""
    write(engine, lambda conn: record(conn, LI, "campaign.create", "campaign:1", NOW, audience=1200, name="冬季关怀"))
    write(engine, lambda conn: record(conn, SYSTEM, "campaign.done", "campaign:1", NOW, sent=1180))
    rows = list(read(engine))
    assert [(r["actor"], r["role"], r["action"], r["source"]) for r in rows] == [
        ("li.na", "agent", "campaign.create", "http 127.0.0.1"), ("system", "admin", "campaign.done", "job")]
    assert rows[0]["detail"] == {"audience": 1200, "name": "冬季关怀"}
    assert [r["id"] for r in read(engine, target="campaign:1", after=rows[0]["id"])] == [rows[1]["id"]]


def test_a_change_that_rolls_back_leaves_no_row(engine):
    """The row is written in the change's transaction: a failing change takes its row with it."""
    def change(conn):
        record(conn, LI, "campaign.approve", "campaign:2", NOW)
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        write(engine, change)
    assert list(read(engine)) == []


@pytest.mark.parametrize("statement", [
    lambda: update(A).values(actor="someone.else"),
    lambda: delete(A),
])
def test_the_database_refuses_to_rewrite_or_delete_a_row(engine, statement):
    """Append-only by trigger: not even a direct UPDATE or DELETE with the service's own credentials."""
    write(engine, lambda conn: record(conn, LI, "agent.add", "agent:wang", NOW, role="viewer"))
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(statement())
    assert [r["actor"] for r in read(engine)] == ["li.na"]


def test_truncate_is_refused_on_postgresql(engine):
    """PostgreSQL's TRUNCATE skips row triggers; a statement trigger refuses it too."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    write(engine, lambda conn: record(conn, LI, "agent.add", "agent:wang", NOW))
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    assert len(list(read(engine))) == 1


def test_roles_rise_from_viewer_to_admin():
    """Each role may do what the one below may: the order the admin API checks against."""
    assert Actor("a", "supervisor", "cli").at_least("agent")
    assert not Actor("a", "agent", "cli").at_least("supervisor")
    assert SYSTEM.at_least("admin")
