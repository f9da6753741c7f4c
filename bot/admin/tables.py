"""Tables (sqlmodel) of the admin API: agents, their tokens (only a hash is kept), and the answers stored
for Idempotency-Key replays."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text
from sqlmodel import Field, SQLModel


class Agent(SQLModel, table=True):
    """A person who may use the admin API, with one role of `jobs.audit.ROLES`; revoked agents stay listed."""

    __tablename__ = "agent"

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    password: str | None = Field(default=None, max_length=200)  # scrypt's salt and hash (bot/admin/passwords.py)


class AgentToken(SQLModel, table=True):
    """One bearer token of an agent: the SHA-256 of the token, never the token (it is shown once)."""

    __tablename__ = "agent_token"

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(max_length=64, index=True, foreign_key="agent.name")
    sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class IdempotencyKey(SQLModel, table=True):
    """A request made with an Idempotency-Key: inserted before the work runs (a NULL status: in progress),
    its answer stored after, replayed to a repeat with the same body (`bot/admin/idempotency.py`)."""

    __tablename__ = "idempotency_key"

    agent: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=128)
    route: str = Field(primary_key=True, max_length=96)  # "POST /admin/agents": the route's template
    body_sha256: str = Field(max_length=64)  # of the method, the path and the body
    status: int | None = None
    response: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
