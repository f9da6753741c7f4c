"""The campaign routes over real HTTP: the lifecycle as an agent drives it, refusals as JSON errors that change
nothing, the second approval, and Idempotency-Key on create and launch (twenty concurrent launches with one key
are one launch)."""
from __future__ import annotations

import asyncio

import pytest
from rq import Queue
from redis import Redis
from sqlalchemy import func, select

from jobs.audit import AuditLog
from jobs.campaign_tables import Campaign

SPEC = {"name": "红区关怀", "audience": {"zones": []},
        "text": {"zh": "尊敬的客户，感谢您一直以来的支持。", "en": "Thank you for staying with us."},
        "offer": {"points": 2000}}
LIMIT = 20  # [campaigns] second_approval_above in these tests; the demo database has 50 subscribers


@pytest.fixture
def settings(settings_with):
    return settings_with(campaigns_second_approval_above=LIMIT)


def audited(api, action: str) -> int:
    with api.db.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditLog).where(AuditLog.action == action)).scalar_one()


def campaigns(api) -> int:
    with api.db.connect() as conn:
        return conn.execute(select(func.count()).select_from(Campaign)).scalar_one()


async def made(api, spec=None, role="agent") -> int:
    status, body, _ = await api.call("POST", "/admin/campaigns", role=role, json=spec or SPEC)
    assert status == 201, body
    return body["id"]


async def step(api, number: int, action: str, role="agent", expect=200, headers=None) -> dict:
    status, body, _ = await api.call("POST", f"/admin/campaigns/{number}/{action}", role=role, json={},
                                     headers=headers)
    assert status == expect, (action, role, status, body)
    return body


async def test_an_agent_creates_previews_approves_and_launches_a_campaign(api, settings):
    small = {**SPEC, "audience": {"prefixes": ["+861380000000"]}}  # 9 of the 50: under the limit
    number = await made(api, small)
    preview = await step(api, number, "preview")
    assert preview["audience"] == 9 and preview["control"] < 9 and preview["state"] == "previewed"
    zh, en = preview["samples"]["zh"], preview["samples"]["en"]
    assert "2,000" in zh["text"] and "TD" in zh["text"] and zh["encoding"] == "UCS-2" and zh["segments"] >= 1
    assert en["encoding"] == "GSM-7", en
    assert (await step(api, number, "approve"))["state"] == "approved"
    queue = Queue(settings.jobs.queue, connection=Redis.from_url(settings.redis.url))
    before = queue.count
    launched = await step(api, number, "launch", expect=202)
    assert launched["state"] == "running" and launched["launched_by"] == "agent1"
    status, body, _ = await api.call("GET", f"/admin/campaigns/{number}", role="viewer")
    assert status == 200 and body["state"] == "running"
    status, body, _ = await api.call("GET", "/admin/campaigns?state=running", role="viewer")
    assert [c["id"] for c in body["campaigns"]] == [number]
    status, report, _ = await api.call("GET", f"/admin/campaigns/{number}/report", role="viewer")
    assert status == 200 and report["audience"] == preview["audience"] and "zones" in report
    assert queue.count == before + 1  # the run, handed to the workers by the launch


async def test_refusals_are_json_errors_that_change_nothing(api):
    number = await made(api)
    before = (campaigns(api), audited(api, "campaign.launch"))
    for method, path, role, body, expect, says in (
            ("POST", f"/admin/campaigns/{number}/launch", "agent", {}, 409, "wrong_state"),
            ("POST", "/admin/campaigns/999/preview", "agent", {}, 404, "not_found"),
            ("POST", "/admin/campaigns/x1/preview", "agent", {}, 400, "bad request"),
            ("GET", "/admin/campaigns?state=nope", "viewer", None, 400, "bad request"),
            ("POST", "/admin/campaigns", "agent", {**SPEC, "text": {"zh": "只有中文"}}, 422, "unprocessable"),
            ("POST", "/admin/campaigns", "agent", {**SPEC, "text": {"zh": "回复TD退订", "en": "x"}}, 422,
             "unprocessable"),
            ("POST", "/admin/campaigns", "agent", {**SPEC, "kind": "low-balance"}, 422, "unprocessable"),
            ("POST", "/admin/campaigns", "viewer", SPEC, 403, "forbidden")):
        status, answer, _ = await api.call(method, path, role=role, json=body)
        assert (status, answer["error"]) == (expect, says), (path, answer)
        assert answer["reason"], answer
    assert (campaigns(api), audited(api, "campaign.launch")) == before


async def test_a_large_campaign_needs_a_supervisor_who_did_not_create_it(api):
    number = await made(api, role="supervisor")  # all 50: above the limit of 20
    assert (await step(api, number, "preview", role="supervisor"))["audience"] > LIMIT
    refused = await step(api, number, "approve", role="agent", expect=409)
    assert refused["error"] == "second_approval" and "supervisor" in refused["reason"]
    own = await step(api, number, "approve", role="supervisor", expect=409)
    assert "other than its creator" in own["reason"]
    assert (await step(api, number, "approve", role="admin"))["approved_by"] == "admin1"


async def test_twenty_concurrent_launches_with_one_key_are_one_launch(api, settings):
    """Every answer is the first launch's 202; one audit row, one run queued."""
    small = {**SPEC, "audience": {"prefixes": ["+861380000000"]}}
    number = await made(api, small)
    await step(api, number, "preview")
    await step(api, number, "approve")
    queue = Queue(settings.jobs.queue, connection=Redis.from_url(settings.redis.url))
    before, key = queue.count, {"Idempotency-Key": "launch-once"}
    answers = await asyncio.gather(*(api.call("POST", f"/admin/campaigns/{number}/launch", role="agent", json={},
                                              headers=key) for _ in range(20)))
    assert {status for status, _, _ in answers} == {202}
    assert len({str(body) for _, body, _ in answers}) == 1
    assert audited(api, "campaign.launch") == 1
    assert queue.count == before + 1
    other = await step(api, number, "launch", expect=409, headers={"Idempotency-Key": "another"})
    assert other["error"] == "wrong_state"


async def test_twenty_concurrent_creates_with_one_key_make_one_campaign(api):
    key = {"Idempotency-Key": "create-once"}
    answers = await asyncio.gather(*(api.call("POST", "/admin/campaigns", role="agent", json=SPEC, headers=key)
                                     for _ in range(20)))
    assert {status for status, _, _ in answers} == {201} and campaigns(api) == 1
    status, body, _ = await api.call("POST", "/admin/campaigns", role="agent", json={**SPEC, "name": "other"},
                                     headers=key)
    assert status == 409, body


async def test_pause_resume_and_cancel(api, settings):
    """A resume hands the run to the workers again at once."""
    number = await made(api, {**SPEC, "audience": {"prefixes": ["+861380000000"]}})
    for action in ("preview", "approve"):
        await step(api, number, action)
    queue = Queue(settings.jobs.queue, connection=Redis.from_url(settings.redis.url))
    await step(api, number, "launch", expect=202)
    assert (await step(api, number, "pause"))["state"] == "paused"
    assert (await step(api, number, "pause", expect=409))["error"] == "wrong_state"
    before = queue.count
    assert (await step(api, number, "resume"))["state"] == "running"
    assert queue.count == before + 1
    assert (await step(api, number, "cancel"))["state"] == "cancelled"
    assert (await step(api, number, "resume", expect=409))["error"] == "wrong_state"
