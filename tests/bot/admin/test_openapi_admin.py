"""docs/openapi.yaml declares what the admin API answers: each route's success, refusals and errors, with
the body shapes, over real HTTP."""
from __future__ import annotations

import itertools

from bot.admin import agents
from tests.bot.admin.conftest import NOW, OPERATOR
from tests.hardening.test_openapi import DOC, assert_declared

_n = itertools.count(1)
CARE = {"text": {"zh_Hans": "您好，这是客服的关怀短信。", "en": "Hello from customer care."}}


async def raw(api, method: str, path: str, token: str | None, json=None, headers=None):
    sent = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    async with api.http.request(method, api.base + path, json=json, headers=sent) as r:
        return r.status, r.content_type, await r.text(), r.headers


async def check(api, template: str, method: str, path: str, role: str | None, json=None, headers=None) -> int:
    status, ctype, text, hdrs = await raw(api, method, path, api.tokens.get(role) if role else None, json, headers)
    assert status < 500, (path, status, text)
    assert_declared(template, method, status, ctype, text, hdrs)
    return status


async def test_every_admin_answer_is_declared(api):
    agents.add(api.db, OPERATOR, "target", "viewer", NOW)
    cases = [
        ("/admin/whoami", "GET", "/admin/whoami", "viewer", None, 200),
        ("/admin/whoami", "GET", "/admin/whoami", None, None, 401),
        ("/admin/agents", "GET", "/admin/agents", "admin", None, 200),
        ("/admin/agents", "GET", "/admin/agents", "supervisor", None, 403),
        ("/admin/agents", "POST", "/admin/agents", "admin", {"name": "n1", "role": "agent"}, 201),
        ("/admin/agents", "POST", "/admin/agents", "admin", {"name": "n1", "role": "agent"}, 409),
        ("/admin/agents", "POST", "/admin/agents", "admin", {"name": "n2"}, 422),
        ("/admin/agents", "POST", "/admin/agents", "admin", ["not", "an", "object"], 400),
        ("/admin/agents/{name}", "DELETE", "/admin/agents/target", "admin", None, 200),
        ("/admin/agents/{name}", "DELETE", "/admin/agents/target", "admin", None, 404),
        ("/admin/audit", "GET", "/admin/audit", "supervisor", None, 200),
        ("/admin/audit", "GET", "/admin/audit?limit=0", "supervisor", None, 400),
        ("/admin/audit", "GET", "/admin/audit", "agent", None, 403),
        ("/admin/subscribers/{msisdn}", "GET", "/admin/subscribers/13800000001", "viewer", None, 200),
        ("/admin/subscribers/{msisdn}", "GET", "/admin/subscribers/12", "viewer", None, 400),
        ("/admin/subscribers/{msisdn}", "GET", "/admin/subscribers/13999999999", "viewer", None, 404),
        ("/admin/subscribers/{msisdn}/messages", "POST", "/admin/subscribers/13800000001/messages", "agent",
         CARE, 202),
        ("/admin/subscribers/{msisdn}/messages", "POST", "/admin/subscribers/13800000001/messages", "agent",
         {"kind": "low-balance"}, 202),
        ("/admin/subscribers/{msisdn}/messages", "POST", "/admin/subscribers/13800000001/messages", "viewer",
         CARE, 403),
        ("/admin/subscribers/{msisdn}/messages", "POST", "/admin/subscribers/13800000001/messages", "agent",
         {"kind": 1}, 422),
    ]
    for template, method, path, role, body, expected in cases:
        assert await check(api, template, method, path, role, body) == expected, (method, path, role)


async def test_idempotency_answers_are_declared(api):
    path, template = "/admin/subscribers/13800000001/messages", "/admin/subscribers/{msisdn}/messages"
    key = {"Idempotency-Key": "doc-1"}
    assert await check(api, template, "POST", path, "agent", CARE, key) == 202
    assert await check(api, template, "POST", path, "agent", CARE, key) == 202
    assert await check(api, template, "POST", path, "agent", {"kind": "birthday"}, key) == 409
    assert await check(api, template, "POST", path, "agent", CARE, {"Idempotency-Key": "x" * 129}) == 400
    params = {p["$ref"].rsplit("/", 1)[1] for p in DOC["paths"][template]["post"]["parameters"]}
    assert "IdempotencyKey" in params


async def test_a_body_over_the_limit_is_a_declared_413_and_runs_nothing(api, settings):
    big = {"text": {"zh_Hans": "x" * settings.http.max_body_bytes}}
    before = api.audit_rows()
    for headers in (None, {"Idempotency-Key": "big"}):
        status = await check(api, "/admin/subscribers/{msisdn}/messages", "POST",
                             "/admin/subscribers/13800000001/messages", "agent", big, headers)
        assert status == 413
    assert api.audit_rows() == before


async def test_every_campaign_answer_is_declared(api):
    spec = {"name": "doc", "audience": {"prefixes": ["+861380000000"]},
            "text": {"zh": "感谢您的支持。", "en": "Thank you."}, "offer": {"points": 100}}
    c = "/admin/campaigns"
    assert await check(api, c, "POST", c, "agent", spec) == 201
    assert await check(api, c, "POST", c, "agent", {**spec, "text": {"en": "x"}}) == 422
    assert await check(api, c, "GET", c, "viewer") == 200
    assert await check(api, c, "GET", c + "?state=nope", "viewer") == 400
    one = c + "/{id}"
    assert await check(api, one, "GET", c + "/1", "viewer") == 200
    assert await check(api, one, "GET", c + "/9", "viewer") == 404
    assert await check(api, one, "GET", c + "/x", "viewer") == 400
    assert await check(api, one + "/report", "GET", c + "/1/report", "viewer") == 200
    assert await check(api, one + "/launch", "POST", c + "/1/launch", "agent", {}) == 409
    for action, expected in (("preview", 200), ("approve", 200), ("launch", 202), ("pause", 200),
                             ("resume", 200), ("cancel", 200)):
        assert await check(api, one + "/" + action, "POST", f"{c}/1/{action}", "agent", {}) == expected
    assert await check(api, one + "/cancel", "POST", c + "/1/cancel", "viewer", {}) == 403
