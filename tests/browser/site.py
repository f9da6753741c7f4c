"""The console as the browser tests meet it: a real `shortcode serve` on loopback with a separate worker, the
simulated SMS gateway (its delivery reports come back to `serve`) and one agent per role, each with a token
and a password (made in this process through `bot.admin`, as `shortcode agent add|password` does: 8 CLI
starts would cost ~8 s a module). `down` stops it all and fails if any process logged a full number, a
secret, a message body, an agent's token or a password."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import ClientSession

from bot.admin import agents, passwords
from bot.db import make_engine
from jobs.audit import ROLES, Actor
from tests.processes import ROOT, UNGATED, Stack, bring_up

OPERATOR = Actor("test.setup", "admin", "test")


@dataclass
class Site:
    stack: Stack
    tokens: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.stack.web

    def secrets(self) -> list[str]:
        return [*self.tokens.values(), *self.passwords.values()]

    def cli(self, *args: str, stdin: str = "") -> str:
        """`shortcode <args>` with this stack's settings; its standard output."""
        done = subprocess.run([sys.executable, "-m", "bot.tools.cli", *args], env=self.stack.env, cwd=ROOT,
                              input=stdin, capture_output=True, text=True, check=True)
        return done.stdout

    async def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        """The admin API as admin1 (a test's setup, not what the browser does)."""
        headers = {"Authorization": f"Bearer {self.tokens['admin']}"}
        async with ClientSession() as http:
            async with http.request(method, self.base + path, json=body, headers=headers) as r:
                found = await r.json()
                assert r.status < 300, (path, r.status, found)
                return found


def up(tmp: Path, redis_url: str, subscribers: int = 300, **env: str) -> Site:
    """Schema, demo data, gateway, serve and worker answering; agents admin1, supervisor1, agent1, viewer1."""
    stack = Stack(tmp, redis_url, SHORTCODE_CONSOLE_PHONE="true", SHORTCODE_LOG_LEVEL="info", **UNGATED, **env)
    site = Site(stack)
    try:
        asyncio.run(bring_up(stack, subscribers))
        engine, now = make_engine(stack.env["SHORTCODE_DATABASE_URL"]), datetime.now(timezone.utc)
        for role in ROLES:
            site.tokens[role] = agents.add(engine, OPERATOR, f"{role}1", role, now)
            site.passwords[role] = f"correct horse {role} staple"
            passwords.set_password(engine, OPERATOR, f"{role}1", site.passwords[role], now)
        engine.dispose()
    except BaseException:
        stack._stop()
        raise
    return site


def down(site: Site) -> None:
    """Stop every process; no log line may carry a number, a secret, a body, a token or a password."""
    site.stack.stop()
    found = [f"{path.name}: a token or password" for path in site.stack.tmp.glob("*.log")
             for secret in site.secrets() if secret in path.read_text(errors="replace")]
    assert not found, found
