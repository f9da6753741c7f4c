"""The admin API over real HTTP on loopback: a migrated, seeded database, an agent and a token per role."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.admin import agents
from jobs.audit import ROLES, AuditLog, Actor

OPERATOR = Actor("tester", "admin", "cli")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


@dataclass
class Api:
    base: str
    http: ClientSession
    db: Engine
    tokens: dict[str, str] = field(default_factory=dict)  # by role: agent "<role>1" holds it

    async def call(self, method: str, path: str, role: str | None = "admin", token: str | None = None,
                   json=None, headers: dict | None = None):
        """(status, JSON answer, headers); `role` picks that role's token, `token` passes one as is."""
        sent = dict(headers or {})
        token = token if token is not None else self.tokens.get(role) if role else None
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.base + path, json=json, headers=sent) as r:
            return r.status, await r.json(content_type=None), r.headers

    def audit_rows(self) -> int:
        with self.db.connect() as conn:
            return conn.execute(select(func.count()).select_from(AuditLog)).scalar_one()


@pytest.fixture
async def api(serve, settings, db):
    base = await serve(settings)
    async with ClientSession() as http:
        found = Api(base, http, db)
        for role in ROLES:
            found.tokens[role] = agents.add(db, OPERATOR, f"{role}1", role, NOW)
        yield found
