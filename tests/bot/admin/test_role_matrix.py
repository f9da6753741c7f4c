"""Every admin route for every role, with no token and with a revoked one: allowed or refused exactly as
the route table says; a refused request changes nothing, an allowed change writes its audit row."""
from __future__ import annotations

import itertools

from sqlalchemy import func, select

from bot.admin import agents
from bot.admin.routes import ROUTES
from bot.admin.tables import Agent, AgentToken
from jobs.audit import ROLES, AuditLog
from jobs.campaign_tables import Campaign
from jobs.tables import Outbox
from tests.bot.admin.conftest import NOW, OPERATOR

EXPECTED = {  # (method, path): the least role; a route added without a line here fails the first test
    ("GET", "/admin/whoami"): "viewer",
    ("GET", "/admin/agents"): "admin",
    ("POST", "/admin/agents"): "admin",
    ("DELETE", "/admin/agents/{name}"): "admin",
    ("POST", "/admin/agents/{name}/password"): "viewer",  # one's own; another's needs an admin (test_passwords)
    ("GET", "/admin/audit"): "supervisor",
    ("GET", "/admin/subscribers/{msisdn}"): "viewer",
    ("POST", "/admin/subscribers/{msisdn}/messages"): "agent",
    ("GET", "/admin/campaigns"): "viewer",
    ("POST", "/admin/campaigns"): "agent",
    ("GET", "/admin/campaigns/{id}"): "viewer",
    ("GET", "/admin/campaigns/{id}/report"): "viewer",
    ("POST", "/admin/campaigns/{id}/preview"): "agent",
    ("POST", "/admin/campaigns/{id}/approve"): "agent",
    ("POST", "/admin/campaigns/{id}/launch"): "agent",
    ("POST", "/admin/campaigns/{id}/pause"): "agent",
    ("POST", "/admin/campaigns/{id}/resume"): "agent",
    ("POST", "/admin/campaigns/{id}/cancel"): "agent",
}
CHANGES = {("POST", "/admin/agents"), ("DELETE", "/admin/agents/{name}"), ("POST", "/admin/agents/{name}/password"),
           ("POST", "/admin/subscribers/{msisdn}/messages"), ("POST", "/admin/campaigns"),
           *((m, p) for m, p in EXPECTED if m == "POST" and p.startswith("/admin/campaigns/{id}/"))}
CAMPAIGN = {"name": "matrix", "audience": {"prefixes": ["+861380000000"]},
            "text": {"zh": "感谢您的支持。", "en": "Thank you for staying with us."}, "offer": {"points": 100}}
BEFORE = {"preview": [], "approve": ["preview"], "launch": ["preview", "approve"], "cancel": [],
          "pause": ["preview", "approve", "launch"], "resume": ["preview", "approve", "launch", "pause"]}
_n = itertools.count(1)


async def campaign_for(api, action: str) -> int:
    """A campaign (of 9 subscribers: below the second approval) brought to where `action` may be taken."""
    status, made, _ = await api.call("POST", "/admin/campaigns", role="admin", json=CAMPAIGN)
    assert status == 201, made
    for earlier in BEFORE.get(action, []):
        status, answer, _ = await api.call("POST", f"/admin/campaigns/{made['id']}/{earlier}", role="admin", json={})
        assert status < 300, answer
    return made["id"]


async def prepare(api, method: str, path: str) -> tuple[str, dict | None]:
    """A fresh request the route accepts (a new agent to add, an agent to revoke, ...)."""
    n = next(_n)
    if path.startswith("/admin/campaigns/{id}"):
        action = path.rsplit("/", 1)[1]
        return path.replace("{id}", str(await campaign_for(api, action))), {} if method == "POST" else None
    if path == "/admin/campaigns":
        return path, CAMPAIGN if method == "POST" else None
    if path == "/admin/agents/{name}":
        agents.add(api.db, OPERATOR, f"target{n}", "viewer", NOW)
        return f"/admin/agents/target{n}", None
    if path == "/admin/agents/{name}/password":
        return "/admin/agents/{self}/password", {"password": f"correct horse {n}"}  # {self}: the caller
    if path == "/admin/agents" and method == "POST":
        return path, {"name": f"new{n}", "role": "viewer"}
    if path.startswith("/admin/subscribers/"):
        body = {"text": {"zh_Hans": "您好，这是客服的关怀短信。", "en": "Hello from customer care."}}
        return path.replace("{msisdn}", "13800000001"), body if method == "POST" else None
    return path + ("?limit=5" if path == "/admin/audit" else ""), None


def snapshot(api) -> tuple:
    """What any admin change would move: agents, tokens, audit rows, outbox rows, campaigns and their states."""
    with api.db.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Agent, AgentToken, AuditLog, Outbox, Campaign)) + (
            conn.execute(select(func.count()).select_from(Agent).where(Agent.revoked_at.is_(None))).scalar_one(),
            tuple(conn.execute(select(Campaign.state).order_by(Campaign.id)).scalars()))


def test_the_route_table_is_the_expected_matrix():
    """A route added, removed or with its role changed must be added to this test's matrix too."""
    assert {(r.method, r.path): r.role for r in ROUTES} == EXPECTED


async def test_every_route_for_every_role_is_allowed_or_refused_as_the_table_says(api):
    """Allowed: a 2xx, and one audit row for a change; below the role: 403 naming it, and nothing changed."""
    for (method, path), least in EXPECTED.items():
        for role in ROLES:
            url, body = await prepare(api, method, path)
            url, before = url.replace("{self}", f"{role}1"), snapshot(api)
            status, answer, _ = await api.call(method, url, role=role, json=body)
            if ROLES.index(role) >= ROLES.index(least):
                assert 200 <= status < 300, (method, path, role, status, answer)
                audited = snapshot(api)[2] - before[2]
                assert audited == (1 if (method, path) in CHANGES else 0), (method, path, role)
            else:
                assert (status, answer.get("needed")) == (403, least), (method, path, role, status, answer)
                assert least in answer["reason"]
                assert snapshot(api) == before, (method, path, role)


async def test_no_token_or_a_revoked_one_gets_401_on_every_route_and_changes_nothing(api):
    """Even an admin's token, once revoked, opens nothing."""
    revoked = agents.add(api.db, OPERATOR, "gone", "admin", NOW)
    agents.revoke(api.db, OPERATOR, "gone", NOW)
    for method, path in EXPECTED:
        for token in (None, revoked):
            url, body = await prepare(api, method, path)
            url, before = url.replace("{self}", "viewer1"), snapshot(api)
            status, answer, headers = await api.call(method, url, role=None, token=token, json=body)
            assert status == 401 and headers["WWW-Authenticate"] == "Bearer", (method, path, answer)
            assert snapshot(api) == before, (method, path)


async def test_no_route_changes_or_deletes_audit_rows(api):
    """The audit log is read only through the API: every method but GET on it is refused before any handler."""
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for url in ("/admin/audit", "/admin/audit/1"):
            status, _, _ = await api.call(method, url, role="admin")
            assert status in (404, 405), (method, url)
    assert not [r for r in ROUTES if r.path.startswith("/admin/audit") and r.method != "GET"]
