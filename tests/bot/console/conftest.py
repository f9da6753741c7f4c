"""The console over real HTTP on loopback: the app with one agent per role, a browser-like client per agent
(its own cookie jar), and a running campaign made through the lifecycle in `jobs.campaigns`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from aiohttp import ClientSession, CookieJar

from bot.admin import agents
from bot.wiring import build_services
from jobs import campaigns
from jobs.audit import ROLES
from tests.bot.admin.conftest import NOW, OPERATOR

HIDDEN = re.compile(r'name="csrf" value="([^"]+)"')
SPEC = {"name": "红区关怀", "audience": {"prefixes": ["+861380000000"]},
        "text": {"zh": "尊敬的客户，感谢您一直以来的支持。", "en": "Thank you for staying with us."},
        "offer": {"points": 2000}}


def csrf_of(html: str) -> str:
    found = HIDDEN.search(html)
    assert found, html[:500]
    return found.group(1)


@dataclass
class Console:
    base: str
    db: object
    tokens: dict[str, str] = field(default_factory=dict)
    clients: list[ClientSession] = field(default_factory=list)

    def client(self) -> ClientSession:
        made = ClientSession(self.base, cookie_jar=CookieJar(unsafe=True))  # unsafe: cookies for 127.0.0.1
        self.clients.append(made)
        return made

    async def sign_in(self, role: str, token: str | None = None) -> tuple[ClientSession, int]:
        """A client signed in as "<role>1" (or trying with `token`); (client, status of the POST)."""
        http, answer = await self.sign_in_answer(role, token)
        return http, answer.status

    async def sign_in_answer(self, role: str, token: str | None = None):
        """(client, the sign-in POST's answer, body read)."""
        http = self.client()
        async with http.get("/console/login") as r:
            form = {"agent": f"{role}1", "token": token or self.tokens[role], "csrf": csrf_of(await r.text())}
        async with http.post("/console/login", data=form, allow_redirects=False) as r:
            await r.read()
            return http, r

    async def page_csrf(self, http: ClientSession, path: str = "/console/") -> str:
        async with http.get(path) as r:
            assert r.status == 200
            return csrf_of(await r.text())


@pytest.fixture
async def open_console(serve, db):
    """Starts the app for some settings, with an agent "<role>1" per role: a `Console` on it."""
    opened: list[Console] = []

    async def start(settings) -> Console:
        found = Console(await serve(settings), db)
        for role in ROLES:
            found.tokens[role] = agents.add(db, OPERATOR, f"{role}1", role, NOW)
        opened.append(found)
        return found

    yield start
    for found in opened:
        for http in found.clients:
            await http.close()


@pytest.fixture
async def console(open_console, settings):
    return await open_console(settings)


@pytest.fixture
def running(console, core) -> int:
    """A campaign launched (running), its run not queued: it stays running while the test looks."""
    db, services = console.db, build_services(core, console.db)
    number = campaigns.create(db, SPEC, OPERATOR, NOW)["id"]
    campaigns.preview(db, number, OPERATOR, NOW, core.catalogs, services)
    campaigns.approve(db, number, OPERATOR, NOW, 1000)
    assert campaigns.launch(db, number, OPERATOR, NOW)["state"] == "running"
    return number
