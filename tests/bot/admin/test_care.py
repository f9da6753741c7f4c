"""One subscriber over the admin API: the lookup an agent sees, and one reminder or care message sent."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import redis
from aiohttp import ClientSession
from rq import Queue
from sqlalchemy import insert, select

from bot.admin import agents

from integrations.boss.simulated import SimulatedBoss
from integrations.sqltx import utcnow
from jobs.audit import AuditLog
from jobs.tables import ChurnScore, OptOut, Outbox
from tests.bot.admin.conftest import NOW, OPERATOR, Api

CARE = {"text": {"zh_Hans": "您好，这是客服的关怀短信。", "en": "Hello from customer care."}}


def outbox(api, msisdn: str) -> list:
    with api.db.connect() as conn:
        return conn.execute(select(Outbox).where(Outbox.msisdn == msisdn).order_by(Outbox.id)).all()


def audit(api, action: str) -> list[dict]:
    with api.db.connect() as conn:
        return [{**r._mapping, "detail": json.loads(r.detail)}
                for r in conn.execute(select(AuditLog).where(AuditLog.action == action))]


async def test_lookup_shows_masked_number_zones_newest_first_and_recent_messages(api):
    with api.db.begin() as conn:
        conn.execute(insert(ChurnScore.__table__), [
            {"msisdn": "+8613800000001", "week": "2026-W47", "zone": "green", "score": 0.1, "reasons": "stable"},
            {"msisdn": "+8613800000001", "week": "2026-W48", "zone": "red", "score": 0.8,
             "reasons": "spend down 42 % over 3 months"}])
    await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent", json=CARE)
    status, body, _ = await api.call("GET", "/admin/subscribers/+86 138 0000 0001", role="viewer")
    assert status == 200
    assert body["msisdn"] == "+86138****0001" and body["tier"] == "gold" and body["opted_out"] is False
    assert [(z["week"], z["zone"]) for z in body["zones"]] == [("2026-W48", "red"), ("2026-W47", "green")]
    assert body["zones"][0]["reasons"] == "spend down 42 % over 3 months"
    assert body["messages"][0]["text"] == CARE["text"][body["language"]]
    assert {"at", "channel", "status", "text"} <= set(body["messages"][0])
    assert "+8613800000001" not in json.dumps(body)


async def test_a_bad_number_is_400_and_an_unknown_one_404(api):
    status, body, _ = await api.call("GET", "/admin/subscribers/12345", role="viewer")
    assert status == 400 and "not a valid phone number" in body["reason"]
    status, body, _ = await api.call("POST", "/admin/subscribers/13999999999/messages", role="agent", json=CARE)
    assert (status, body["reason"]) == (404, "no such subscriber")


async def test_a_care_text_goes_to_the_outbox_in_the_subscribers_language_with_a_masked_audit_row(api):
    status, body, _ = await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent", json=CARE)
    assert status == 202 and (body["queued"], body["suppressed"]) == (1, 0)
    [row] = outbox(api, "+8613800000001")
    assert (row.text, row.kind, row.cap_class, row.status) == (CARE["text"][body["language"]], "reminder", "care",
                                                               "pending")
    assert row.cause.startswith("care:")
    [entry] = audit(api, "care.message")
    assert (entry["actor"], entry["target"], entry["detail"]["cause"]) == ("agent1", "+86138****0001", row.cause)
    assert "+8613800000001" not in json.dumps(entry, default=str)


async def test_an_opted_out_subscriber_gets_nothing_and_the_answer_says_why(api):
    with api.db.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+8613800000001", opted_out=True, channel="sms",
                                                     text="STOP", changed_at=datetime.now(timezone.utc)))
    status, body, _ = await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent", json=CARE)
    assert status == 202 and (body["queued"], body["suppressed"], body["reason"]) == (0, 1, "opted out")
    assert outbox(api, "+8613800000001") == []
    assert audit(api, "care.message")[0]["detail"]["outcome"] == "suppressed"


async def test_a_reminder_kind_runs_for_this_one_subscriber_only(api):
    """Two balances below the threshold; the kind sent for one writes one row, the other gets nothing."""
    boss = SimulatedBoss(api.db)
    for number in ("+8613800000003", "+8613800000004"):
        boss.set_balance(number, 500, utcnow())
    status, body, _ = await api.call("POST", "/admin/subscribers/13800000003/messages", role="agent",
                                     json={"kind": "low-balance"})
    assert status == 202 and body["queued"] == 1, body
    assert [r.topic for r in outbox(api, "+8613800000003")] == ["low-balance"]
    assert outbox(api, "+8613800000004") == []
    assert audit(api, "care.reminder")[0]["detail"]["queued"] == 1


async def test_bad_bodies_name_the_field(api):
    path = "/admin/subscribers/13800000001/messages"
    for sent, status, says in ((None, 400, "JSON object"), ({"kind": "nope"}, 422, "field 'kind': unknown kind"),
                               ({}, 422, "exactly one of 'kind' and 'text'"),
                               ({"kind": "birthday", **CARE}, 422, "exactly one"),
                               ({"text": {"fr": "Bonjour"}}, 422, "text.fr"),
                               ({"text": {"zh_Hans": "x" * 1001}}, 422, "text.zh_Hans")):
        got, body, _ = await api.call("POST", path, role="agent", json=sent)
        assert got == status and says in body["reason"], (sent, got, body)
    assert outbox(api, "+8613800000001") == [] and audit(api, "care.message") == []


async def test_a_text_without_the_subscribers_language_is_422(api):
    status, body, _ = await api.call("GET", "/admin/subscribers/13800000001", role="viewer")
    other = "en" if body["language"] == "zh_Hans" else "zh_Hans"
    status, body, _ = await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent",
                                     json={"text": {other: "hi"}})
    assert status == 422 and "the subscriber reads" in body["reason"]


async def test_a_care_message_is_handed_to_the_send_queue(serve, settings_with, db):
    """The outbox row's id is queued for the sender at once, not left for the re-scan."""
    settings = settings_with(jobs_queue=f"care-{id(db)}")
    async with ClientSession() as http:
        api = Api(await serve(settings), http, db, {"agent": agents.add(db, OPERATOR, "a1", "agent", NOW)})
        status, body, _ = await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent", json=CARE)
    assert status == 202 and body["queued"] == 1
    [row] = outbox(api, "+8613800000001")
    queue = Queue(settings.jobs.queue, connection=redis.Redis.from_url(settings.redis.url))
    assert [(job.func_name, job.args) for job in queue.get_jobs()] == [("jobs.outbox.send_outbox", ([row.id],))]
