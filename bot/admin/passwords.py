"""Agents' passwords for the web console: scrypt (stdlib) with a salt of its own per password, compared in
constant time; only "scrypt$n$r$p$salt$hash" is stored. Setting one writes its audit row in the same
transaction; the password itself is never logged, stored or returned."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from bot.admin.agents import AG, AgentError, AgentRow
from integrations.sqltx import write
from jobs.audit import Actor, record

N, R, P, LENGTH = 2**14, 8, 1, 32  # 16 MiB and about 50 ms a try: slow for a guesser, fine for a person
MIN_LENGTH, MAX_LENGTH = 10, 200
SCHEME = "scrypt"


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=LENGTH, maxmem=2 * 128 * n * r * p)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hashed(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def matches(password: str, stored: str | None) -> bool:
    """Whether `password` is the one `stored` was made from; without a stored one a dummy hash is still
    computed, so the answer takes as long for an agent without a password or an unknown name."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        ok = scheme == SCHEME
        made = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        ok, digest, made = False, "", _derive(password, b"no password here", N, R, P)
    return hmac.compare_digest(made, base64.b64decode(digest or "")) and ok


class BadPassword(AgentError):
    """Too short or too long."""


def check(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise BadPassword(f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters")
    return password


def set_password(engine: Engine, actor: Actor, name: str, password: str, now: datetime) -> None:
    """Set (or replace) an active agent's password; the audit row names the agent, never the password."""
    check(password)
    stored = hashed(password)

    def work(conn: Connection) -> None:
        found = conn.execute(select(AG.c.revoked_at).where(AG.c.name == name)).first()
        if found is None or found.revoked_at is not None:
            raise AgentError(f"no active agent '{name}'")
        conn.execute(update(AG).where(AG.c.name == name).values(password=stored))
        record(conn, actor, "agent.password", f"agent:{name}", now)

    write(engine, work)


def _stored(engine: Engine, name: str):
    with engine.connect() as conn:
        return conn.execute(select(AG).where(AG.c.name == name)).first()


def holder(engine: Engine, name: str, password: str) -> tuple[AgentRow | None, str]:
    """The active agent `name` and the session mark of their password if `password` is theirs; (None, "")
    otherwise (unknown, revoked, no password)."""
    row = _stored(engine, name[:64])
    ok = matches(password, row.password if row is not None else None)
    if not ok or row is None or row.revoked_at is not None:
        return None, ""
    return AgentRow(row.name, row.role, row.created_at, None), mark(row.password)


def mark(stored: str) -> str:
    """What a console session keeps of the password it was opened with: a digest of the stored hash, so a
    new password ends the sessions opened with the old one."""
    return "pw:" + hashlib.sha256(stored.encode()).hexdigest()


def holder_of_mark(engine: Engine, name: str, session_mark: str) -> AgentRow | None:
    """The active agent whose current password the session's mark was made from, or None."""
    row = _stored(engine, name)
    if row is None or row.revoked_at is not None or not row.password:
        return None
    if not hmac.compare_digest(mark(row.password).encode(), session_mark.encode()):
        return None
    return AgentRow(row.name, row.role, row.created_at, None)
