"""The audit log: every change a person makes (a campaign created, approved, launched; an agent added or
revoked; a message sent to one subscriber) is one row, written in the transaction of the change, so a change
without its row cannot commit. Rows are only ever inserted: the database refuses UPDATE and DELETE
(migration 0014's triggers), and nothing here offers either."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import Column, DateTime, Index, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from integrations.sqltx import utc

ROLES = ("viewer", "agent", "supervisor", "admin")  # each may do what the one before it may, and more


class AuditLog(SQLModel, table=True):
    """One change: who (agent and role), when, what (action, target, detail as JSON), from where."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=64)
    role: str = Field(max_length=16)
    action: str = Field(max_length=48)
    target: str = Field(max_length=96)
    source: str = Field(max_length=64)
    detail: str = Field(max_length=2000)


A = AuditLog.__table__


@dataclass(frozen=True)
class Actor:
    """Who makes a change and from where: an agent by their token over HTTP ("http 10.0.0.7"), the operator
    at the console ("cli"), or a job acting on an earlier decision (`SYSTEM`)."""

    name: str
    role: str
    source: str

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


SYSTEM = Actor("system", "admin", "job")


def record(conn: Connection, actor: Actor, action: str, target: str, now: datetime,
           **detail: Any) -> None:
    """Write one row in the caller's transaction (the change and its row commit together or not at all).
    Detail must hold no full phone number: mask it first (`bot.msisdn.mask`-style)."""
    text = json.dumps(detail, ensure_ascii=False, separators=(",", ":"), default=str, sort_keys=True)
    conn.execute(insert(A).values(at=utc(now), actor=actor.name[:64], role=actor.role[:16], action=action[:48],
                                  target=target[:96], source=actor.source[:64], detail=text[:2000]))


def read(engine: Engine, target: str | None = None, after: int = 0, limit: int = 100) -> Iterator[dict]:
    """The log in order, from the row after `after`, of one target or all."""
    stmt = select(A).where(A.c.id > after).order_by(A.c.id).limit(limit)
    if target is not None:
        stmt = stmt.where(A.c.target == target)
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            yield {**row._mapping, "detail": json.loads(row.detail)}
