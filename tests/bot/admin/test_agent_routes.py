"""Agents and the audit log over the admin API."""
from __future__ import annotations

from sqlalchemy import select

from bot.admin import agents
from bot.admin.tables import AgentToken


async def test_an_admin_adds_an_agent_whose_token_works_and_is_stored_only_hashed(api):
    status, body, _ = await api.call("POST", "/admin/agents", json={"name": "wang.fang", "role": "supervisor"})
    assert status == 201 and body["token"].startswith("sc_")
    assert (await api.call("GET", "/admin/whoami", token=body["token"]))[1]["role"] == "supervisor"
    with api.db.connect() as conn:
        stored = conn.execute(select(AgentToken.sha256).where(AgentToken.agent == "wang.fang")).scalar_one()
    assert stored == agents.digest(body["token"]) and body["token"] not in stored


async def test_agents_are_listed_without_tokens_and_revoked_ones_stay_listed(api):
    await api.call("DELETE", "/admin/agents/viewer1")
    status, body, _ = await api.call("GET", "/admin/agents")
    listed = {a["name"]: (a["role"], a["active"]) for a in body["agents"]}
    assert listed["viewer1"] == ("viewer", False) and listed["admin1"] == ("admin", True)
    assert not any("token" in a for a in body["agents"])


async def test_bad_or_duplicate_agents_and_unknown_revokes_are_refused_with_a_reason(api):
    for sent, status, says in (({"name": "Li Na", "role": "agent"}, 422, "name 'Li Na'"),
                               ({"name": "x" * 65, "role": "agent"}, 422, "1-64 characters"),
                               ({"name": "li", "role": "root"}, 422, "role 'root': one of viewer"),
                               ({"name": "li"}, 422, "field 'role'"),
                               ({"name": "agent1", "role": "agent"}, 409, "exists already")):
        got, body, _ = await api.call("POST", "/admin/agents", json=sent)
        assert got == status and says in body["reason"], (sent, got, body)
    status, body, _ = await api.call("DELETE", "/admin/agents/nobody")
    assert (status, body["reason"]) == (404, "no active agent 'nobody'")


async def test_the_audit_log_pages_by_id_and_filters_by_target(api):
    await api.call("POST", "/admin/agents", json={"name": "zhao", "role": "agent"})
    await api.call("DELETE", "/admin/agents/zhao")
    status, body, _ = await api.call("GET", "/admin/audit?target=agent:zhao", role="supervisor")
    assert [(e["action"], e["actor"], e["source"]) for e in body["entries"]] == [
        ("agent.add", "admin1", "http 127.0.0.1"), ("agent.revoke", "admin1", "http 127.0.0.1")]
    first = (await api.call("GET", "/admin/audit?limit=2", role="supervisor"))[1]
    rest = (await api.call("GET", f"/admin/audit?after={first['next_after']}", role="supervisor"))[1]
    assert len(first["entries"]) == 2 and rest["entries"][0]["id"] == first["entries"][1]["id"] + 1
    for query in ("limit=0", "limit=1001", "after=-1", "after=x"):
        status, body, _ = await api.call("GET", f"/admin/audit?{query}", role="supervisor")
        assert status == 400 and query.split("=")[0] in body["reason"], query
