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
from jobs.campaign_tables import CampaignMember
from jobs.tables import ChurnScore, OptOut, Outbox, ReminderGoto
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
            {"msisdn": "+8613800000001", "week": "2026-W47", "zone": "green", "score": 0.1,
             "reasons": "spend_change_pct=2"},
            {"msisdn": "+8613800000001", "week": "2026-W48", "zone": "red", "score": 0.8,
             "reasons": "spend_change_pct=-42;offnet_pct=35"}])
    await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent", json=CARE)
    status, body, _ = await api.call("GET", "/admin/subscribers/+86 138 0000 0001", role="viewer")
    assert status == 200
    assert body["msisdn"] == "+86138****0001" and body["tier"] == "gold" and body["opted_out"] is False
    assert [(z["week"], z["zone"]) for z in body["zones"]] == [("2026-W48", "red"), ("2026-W47", "green")]
    assert body["zones"][0]["reasons"] == "spend_change_pct=-42;offnet_pct=35"
    assert "42" in body["zones"][0]["why"] and "35" in body["zones"][0]["why"] and "；" in body["zones"][0]["why"]
    _, english, _ = await api.call("GET", "/admin/subscribers/13800000001?lang=en", role="viewer")
    assert english["zones"][0]["why"].startswith("spend down 42") and "other networks 35" in english["zones"][0]["why"]
    status, refused, _ = await api.call("GET", "/admin/subscribers/13800000001?lang=fr", role="viewer")
    assert status == 400 and "lang" in refused["reason"]
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
                               ({}, 422, "exactly one of 'kind', 'text' and 'campaign'"),
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


async def launched_campaign(api, state: str = "launch", **changes) -> int:
    spec = {"name": "care desk", "audience": {"prefixes": ["+86138000000"]},
            "text": {"zh": "感谢您的支持。", "en": "Thank you for staying with us."}, "offer": {"points": 500},
            **changes}
    status, made, _ = await api.call("POST", "/admin/campaigns", role="admin", json=spec)
    steps = {"draft": [], "launch": ["preview", "approve", "launch"]}[state]
    for step in steps:
        status, body, _ = await api.call("POST", f"/admin/campaigns/{made['id']}/{step}", role="admin", json={})
        assert status < 300, body
    return made["id"]


async def test_an_agent_sends_one_subscriber_a_launched_campaigns_offer_once(api):
    """The campaign's own text and offer line, its goto for the reply 1; a repeat is "sent before"."""
    number = await launched_campaign(api)
    with api.db.connect() as conn:
        control = conn.execute(select(CampaignMember.msisdn).where(CampaignMember.campaign_id == number,
                                                                   CampaignMember.control == True)).scalars().all()  # noqa: E712
        goto = lambda n: conn.execute(select(ReminderGoto.goto, ReminderGoto.params).where(  # noqa: E731
            ReminderGoto.msisdn == n)).first()
    someone = next(f"1380000{n:04d}" for n in range(1, 50) if f"+861380000{n:04d}" not in control)
    path = f"/admin/subscribers/{someone}/messages"
    status, body, _ = await api.call("POST", path, role="agent", json={"campaign": number})
    assert status == 202 and (body["queued"], body["campaign"]) == (1, number), body
    sent = outbox(api, "+86" + someone)
    assert len(sent) == 1 and sent[0].cause == f"cmp:{number}:+86{someone}" and "500" in sent[0].text
    with api.db.connect() as conn:
        assert goto("+86" + someone)[0] == "offers.claim"
    status, again, _ = await api.call("POST", path, role="agent", json={"campaign": number})
    assert status == 202 and again["queued"] == 0 and again["reason"].startswith("sent before")
    assert len(outbox(api, "+86" + someone)) == 1
    assert [a["detail"]["outcome"] for a in audit(api, "campaign.send_one")] == ["queued"]
    assert "+86" + someone not in json.dumps(audit(api, "campaign.send_one"), default=str)


async def test_a_campaign_offer_is_refused_for_a_draft_an_unknown_campaign_and_the_control_group(api):
    draft = await launched_campaign(api, "draft")
    status, body, _ = await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent",
                                     json={"campaign": draft})
    assert (status, body["error"]) == (409, "wrong_state")
    status, body, _ = await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent",
                                     json={"campaign": 999})
    assert (status, body["error"]) == (404, "not_found")
    number = await launched_campaign(api)
    with api.db.connect() as conn:
        held = conn.execute(select(CampaignMember.msisdn).where(CampaignMember.campaign_id == number,
                                                                CampaignMember.control == True)).scalars().first()  # noqa: E712
    assert held, "the demo audience has a control member"
    status, body, _ = await api.call("POST", f"/admin/subscribers/{held}/messages", role="agent",
                                     json={"campaign": number})
    assert (status, body["error"]) == (409, "control_group") and outbox(api, held) == []
    status, body, _ = await api.call("POST", "/admin/subscribers/13800000001/messages", role="agent",
                                     json={"campaign": number, "kind": "birthday"})
    assert status == 422 and "exactly one" in body["reason"]


async def test_a_reminder_kinds_campaign_is_refused_for_one_subscriber(api):
    """Its message depends on the kind being due for them: the agent sends the kind itself instead."""
    number = await launched_campaign(api, text=None, kind="bill-ready")
    with api.db.connect() as conn:
        member = conn.execute(select(CampaignMember.msisdn).where(CampaignMember.campaign_id == number,
                                                                  CampaignMember.control == False)).scalars().first()  # noqa: E712
    status, body, _ = await api.call("POST", f"/admin/subscribers/{member}/messages", role="agent",
                                     json={"campaign": number})
    assert (status, body["error"]) == (409, "kind_campaign") and outbox(api, member) == []
