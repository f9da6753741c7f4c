"""Agents and their tokens: add, list, revoke, issue a token, and find the agent a token belongs to. A token
is random, shown once and stored only as its SHA-256; every change writes its audit row in its transaction."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.admin.tables import Agent, AgentToken
from integrations.sqltx import utc, write
from jobs.audit import ROLES, Actor, record

AG, TOK = Agent.__table__, AgentToken.__table__
NAME = re.compile(r"[a-z0-9._-]{1,64}")
PREFIX = "sc_"  # a token is recognisable in a config file or a leaked paste


class AgentError(ValueError):
    """A request about agents that cannot be done (bad name or role, duplicate, unknown agent)."""


class AgentExists(AgentError):
    """The name is taken (by an active or a revoked agent)."""


@dataclass(frozen=True)
class AgentRow:
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None

    def as_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "active": self.revoked_at is None,
                "created_at": iso(self.created_at), "revoked_at": iso(self.revoked_at)}


def iso(moment: datetime | None) -> str | None:
    """A stored time as ISO 8601 in UTC (SQLite hands it back without its offset)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise AgentError(f"name '{name[:80]}': 1-64 characters of a-z, 0-9, '.', '_' and '-'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AgentError(f"role '{role[:40]}': one of {', '.join(ROLES)}")
    return role


def _issue(conn: Connection, name: str, now: datetime) -> str:
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(TOK).values(agent=name, sha256=digest(token), created_at=utc(now)))
    return token


def _find(conn: Connection, name: str):
    return conn.execute(select(AG).where(AG.c.name == name)).first()


def add(engine: Engine, actor: Actor, name: str, role: str, now: datetime) -> str:
    """A new agent with its first token (returned: the only time it is seen)."""
    check_name(name), check_role(role)

    def work(conn: Connection) -> str:
        if _find(conn, name) is not None:
            raise AgentExists(f"agent '{name}' exists already (a revoked name is not reused)")
        conn.execute(insert(AG).values(name=name, role=role, created_at=utc(now)))
        record(conn, actor, "agent.add", f"agent:{name}", now, role=role)
        return _issue(conn, name, now)

    return write(engine, work)


def new_token(engine: Engine, actor: Actor, name: str, now: datetime) -> str:
    """One more token for an active agent (the old ones stay valid until revoked)."""
    def work(conn: Connection) -> str:
        found = _find(conn, name)
        if found is None or found.revoked_at is not None:
            raise AgentError(f"no active agent '{name}'")
        record(conn, actor, "agent.token", f"agent:{name}", now)
        return _issue(conn, name, now)

    return write(engine, work)


def revoke(engine: Engine, actor: Actor, name: str, now: datetime) -> int:
    """Mark the agent revoked and every token of theirs; returns how many tokens were still valid."""
    def work(conn: Connection) -> int:
        found = _find(conn, name)
        if found is None or found.revoked_at is not None:
            raise AgentError(f"no active agent '{name}'")
        conn.execute(update(AG).where(AG.c.name == name).values(revoked_at=utc(now)))
        tokens = conn.execute(update(TOK).where(TOK.c.agent == name, TOK.c.revoked_at.is_(None))
                              .values(revoked_at=utc(now))).rowcount
        record(conn, actor, "agent.revoke", f"agent:{name}", now, tokens=tokens)
        return tokens

    return write(engine, work)


def listing(engine: Engine) -> list[AgentRow]:
    with engine.connect() as conn:
        return [AgentRow(r.name, r.role, r.created_at, r.revoked_at)
                for r in conn.execute(select(AG).order_by(AG.c.name))]


def holder(engine: Engine, token: str) -> tuple[AgentRow | None, str]:
    """The active agent a token belongs to, or None and why not ("unknown token", "token revoked")."""
    return holder_of_digest(engine, digest(token))


def holder_of_digest(engine: Engine, sha256: str) -> tuple[AgentRow | None, str]:
    """As `holder`, by the token's digest: the web console keeps only that in its session."""
    with engine.connect() as conn:
        row = conn.execute(select(AG, TOK.c.revoked_at.label("token_revoked"))
                           .join(TOK, TOK.c.agent == AG.c.name).where(TOK.c.sha256 == sha256)).first()
    if row is None:
        return None, "unknown token"
    if row.token_revoked is not None or row.revoked_at is not None:
        return None, "token revoked"
    return AgentRow(row.name, row.role, row.created_at, None), ""
