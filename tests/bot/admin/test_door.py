"""The door of /admin/*: bearer tokens, deny by default, JSON errors."""
from __future__ import annotations

from bot.admin import agents
from tests.bot.admin.conftest import NOW, OPERATOR


async def test_whoami_names_the_agent_its_role_and_where_from(api):
    """The token is the agent: name, role, and the peer address as the source."""
    status, body, _ = await api.call("GET", "/admin/whoami", role="agent")
    assert (status, body) == (200, {"name": "agent1", "role": "agent", "source": "http 127.0.0.1"})


async def test_missing_malformed_or_unknown_tokens_get_401_json_with_www_authenticate(api):
    """Each refusal says why, in JSON, with the Bearer challenge."""
    for headers, why in (({}, "missing bearer token"), ({"Authorization": "Basic abc"}, "must be 'Bearer"),
                         ({"Authorization": "Bearer sc_nope"}, "unknown token")):
        status, body, sent = await api.call("GET", "/admin/whoami", role=None, headers=headers)
        assert status == 401 and body["error"] == "unauthorized" and why in body["reason"], body
        assert sent["WWW-Authenticate"] == "Bearer"


async def test_a_revoked_agent_or_token_is_refused_at_once(api):
    """Revoking an agent revokes every token of theirs: the next request is a 401."""
    second = agents.new_token(api.db, OPERATOR, "viewer1", NOW)
    assert (await api.call("GET", "/admin/whoami", token=second))[0] == 200
    agents.revoke(api.db, OPERATOR, "viewer1", NOW)
    for token in (second, api.tokens["viewer"]):
        status, body, _ = await api.call("GET", "/admin/whoami", token=token)
        assert (status, body["reason"]) == (401, "token revoked")


async def test_an_admin_path_not_in_the_table_is_a_json_404_or_405(api):
    """Deny by default: an unlisted path or method is refused and runs nothing."""
    status, body, _ = await api.call("GET", "/admin/secrets")
    assert status == 404 and body["error"] == "not found"
    status, body, _ = await api.call("PUT", "/admin/whoami")
    assert status == 405 and body["allowed"] == ["GET"]
    status, body, _ = await api.call("DELETE", "/admin/audit", role=None)
    assert status == 401  # no token: nothing about the routes is told either


async def test_paths_outside_admin_need_no_token(api):
    """The door is only in front of /admin/: health checks and webhooks are untouched."""
    async with api.http.get(api.base + "/healthz") as r:
        assert r.status == 200
