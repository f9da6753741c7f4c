"""Subscriber lookup in the console over real HTTP: a number typed any way opens the page by an opaque handle,
the page shows the number masked (never in full, in the HTML or a URL), the zones with their reasons, the
messages each way with their delivery; an agent sends one reminder or one campaign offer, a viewer cannot."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select
from structlog.testing import capture_logs

from bot.models import SmsInbox, TelegramInbox, TelegramLink
from integrations.boss.simulated import SimulatedBoss
from integrations.sqltx import utcnow
from jobs.audit import AuditLog
from jobs.campaign_tables import CampaignMember
from jobs.tables import ChurnScore, OptOut, Outbox, TelegramOutbox
from tests.bot.console.conftest import Console
from tests.privacy import PHONE

FULL = "+8613800000001"
MASKED = "+86138****0001"
SPELLINGS = ("+86 138 0000 0001", "8613800000001", "138 0000 0001", "13800000001", "+86-138-0000-0001")


async def look_up(console: Console, http, typed: str):
    """POST the lookup form as a browser does: (status, Location or "", body)."""
    form = {"msisdn": typed, "csrf": await console.page_csrf(http, "/console/subscribers?lang=en")}  # then English
    async with http.post("/console/subscribers", data=form, allow_redirects=False) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def opened(console: Console, role: str, number: str = FULL):
    """A client signed in as `role`, and the subscriber page's path for `number`."""
    http, _ = await console.sign_in(role)
    status, location, _ = await look_up(console, http, number)
    assert status == 303, status
    return http, location


def no_full_number(*texts: str) -> None:
    for text in texts:
        assert not PHONE.search(text), PHONE.search(text)
        assert "13800000001" not in text.replace(" ", "").replace("-", "")


def outbox(console: Console, msisdn: str) -> list:
    with console.db.connect() as conn:
        return conn.execute(select(Outbox).where(Outbox.msisdn == msisdn).order_by(Outbox.id)).all()


def audit(console: Console, action: str) -> list:
    with console.db.connect() as conn:
        return conn.execute(select(AuditLog).where(AuditLog.action == action)).all()


async def test_a_number_typed_any_way_opens_the_subscriber_by_a_handle_that_is_not_the_number(console):
    """Five spellings, five fresh random handles, each page with the masked number and never the full one."""
    http, _ = await console.sign_in("viewer")
    handles = set()
    for typed in SPELLINGS:
        status, location, _ = await look_up(console, http, typed)
        assert status == 303 and location.startswith("/console/subscribers/"), (typed, status)
        handle = location.rsplit("/", 1)[1]
        assert len(handle) == 22
        no_full_number(location)
        handles.add(handle)
        async with http.get(location) as r:
            html = await r.text()
            assert r.status == 200 and MASKED in html and "gold" in html
            no_full_number(html, str(r.url))
    assert len(handles) == len(SPELLINGS)


async def test_an_unknown_or_malformed_number_shows_the_form_again_with_the_reason(console):
    """Unknown: 404 naming the masked number; malformed: 400; neither echoes what was typed in full."""
    http, _ = await console.sign_in("agent")
    status, location, html = await look_up(console, http, "139 9999 9999")
    assert (status, location) == (404, "") and "+86139****9999" in html and "No subscriber" in html
    assert "13999999999" not in html and "139 9999 9999" not in html
    status, location, html = await look_up(console, http, "12345")
    assert (status, location) == (400, "") and "not a valid mobile number" in html and 'id="msisdn"' in html


async def test_a_handle_opens_nothing_in_another_session(console):
    """The handle is kept in the session that looked the number up: another agent's browser gets 404."""
    _, location = await opened(console, "agent")
    other, _ = await console.sign_in("supervisor")
    async with other.get(location + "?lang=en") as r:
        assert r.status == 404 and "expired" in await r.text()


async def test_the_page_shows_zones_with_reasons_in_chinese_and_messages_with_their_delivery(console):
    """Reasons in the UI language; in and out newest first, each outbound with its delivery status."""
    seen = utcnow()
    with console.db.begin() as conn:
        conn.execute(insert(ChurnScore.__table__), [
            {"msisdn": FULL, "week": "2026-W48", "zone": "red", "score": 0.8,
             "reasons": "spend_change_pct=-42;offnet_pct=35"}])
        conn.execute(insert(SmsInbox.__table__).values(gateway="t", message_id="m1", msisdn=FULL, short_code="10086",
                                                       text="BALANCE please", received_at=seen))
        conn.execute(insert(Outbox.__table__), [
            {"msisdn": FULL, "text": f"Message number {n} for you", "cause": f"test:{n}", "status": status,
             "dlr_status": dlr, "next_attempt_at": seen, "created_at": seen + timedelta(minutes=n)}
            for n, (status, dlr) in enumerate([("sent", "Success"), ("sent", "Failed"), ("held", None),
                                               ("cancelled", None), ("sent", None)])])
        conn.execute(insert(TelegramLink.__table__).values(user_id=7100041, msisdn=FULL, chat_id=7100041,
                                                           linked_at=seen, update_id=1))
        conn.execute(insert(TelegramInbox.__table__).values(bot="123456", update_id=2, user_id=7100041,
                                                            chat_id=7100041, kind="text", text="hello from the chat",
                                                            received_at=seen + timedelta(minutes=9)))
        conn.execute(insert(TelegramOutbox.__table__).values(chat_id=7100041, msisdn=FULL, text="Your chat reply",
                                                             cause="test:tg", status="sent", next_attempt_at=seen,
                                                             created_at=seen + timedelta(minutes=9)))
    http, location = await opened(console, "viewer")
    async with http.get(location + "?lang=zh_Hans") as r:
        html = await r.text()
    assert "红区" in html and "42" in html and "35" in html and "；" in html
    async with http.get(location + "?lang=en") as r:
        html = await r.text()
    assert "spend down 42" in html and "BALANCE please" in html
    assert html.index("hello from the chat") < html.index("BALANCE please")
    assert html.index("Your chat reply") < html.index("Message number 4") < html.index("Message number 0")
    for word in ("delivered", "failed", "held", "cancelled", "sent"):
        assert f'class="status-{word}">{word}<' in html, word
    no_full_number(html)


async def test_an_opted_out_subscriber_shows_since_when_and_a_reminder_to_them_is_not_sent(console):
    """Opt-out with its channel and time (operator's zone, Asia/Shanghai: UTC+8); the send says why nothing went."""
    stopped = datetime(2026, 11, 30, 2, 5, tzinfo=timezone.utc)
    with console.db.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+8613800000003", opted_out=True, channel="sms",
                                                     text="STOP", changed_at=stopped))
    SimulatedBoss(console.db).set_balance("+8613800000003", 500, utcnow())
    http, location = await opened(console, "agent", "138 0000 0003")
    async with http.get(location + "?lang=en") as r:
        assert "Opted out since 2026-11-30 10:05 (by sms)" in await r.text()
    form = {"kind": "low-balance", "csrf": await console.page_csrf(http, location)}
    async with http.post(location + "/messages", data=form, allow_redirects=True) as r:
        assert r.url.query["result"] == "opted_out" and "has opted out" in await r.text()
    assert outbox(console, "+8613800000003") == []


async def test_an_agent_sends_one_reminder_with_one_outbox_row_and_an_audit_row_from_the_console(console):
    """The same path as the admin API's care send: one row for this subscriber, audited as "console <ip>"."""
    SimulatedBoss(console.db).set_balance("+8613800000003", 500, utcnow())
    http, location = await opened(console, "agent", "138 0000 0003")
    form = {"kind": "low-balance", "csrf": await console.page_csrf(http, location)}
    with capture_logs() as logs:
        async with http.post(location + "/messages", data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == location + "?result=queued"
    assert [row.topic for row in outbox(console, "+8613800000003")] == ["low-balance"]
    [row] = audit(console, "care.reminder")
    assert (row.actor, row.source, row.target) == ("agent1", "console 127.0.0.1", "+86138****0003")
    assert json.loads(row.detail)["queued"] == 1
    assert "13800000003" not in json.dumps([e for e in logs], default=str)
    async with http.get(location + "?result=queued&lang=en") as r:
        html = await r.text()
    assert "Queued" in html and "low-balance" in html


async def test_a_campaign_offer_goes_once_and_the_control_group_is_refused(console, running):
    """The second send of the same offer is refused as sent before; a control member gets a 409 in words."""
    with console.db.connect() as conn:
        members = dict(conn.execute(select(CampaignMember.msisdn, CampaignMember.control)
                                    .where(CampaignMember.campaign_id == running)).all())
    someone = next(f"+861380000{n:04d}" for n in range(1, 50) if not members.get(f"+861380000{n:04d}"))
    http, location = await opened(console, "agent", someone)
    form = {"campaign": str(running), "csrf": await console.page_csrf(http, location)}
    for outcome in ("queued", "sent_before"):
        async with http.post(location + "/messages", data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].endswith(f"?result={outcome}")
    assert len(outbox(console, someone)) == 1
    async with http.get(location + "?result=sent_before&lang=en") as r:
        assert "got this message before" in await r.text()
    held = next(n for n, control in members.items() if control)
    http, location = await opened(console, "agent", held)
    form["csrf"] = await console.page_csrf(http, location + "?lang=en")
    async with http.post(location + "/messages", data=form, allow_redirects=False) as r:
        assert r.status == 409 and "control group" in await r.text()
    assert outbox(console, held) == []


async def test_a_viewer_sees_no_send_form_and_a_forged_post_is_403(console):
    """The admin API's role for a care send is agent: a viewer's page has no form, and posting anyway fails."""
    http, location = await opened(console, "viewer")
    async with http.get(location) as r:
        html = await r.text()
    assert MASKED in html and "/messages" not in html and 'name="kind"' not in html
    form = {"kind": "low-balance", "csrf": await console.page_csrf(http, location)}
    async with http.post(location + "/messages", data=form, allow_redirects=False) as r:
        assert r.status == 403
    assert outbox(console, FULL) == [] and audit(console, "care.reminder") == []


async def test_a_send_without_its_csrf_token_is_403_and_sends_nothing(console):
    """An agent may send, but not through a form without the session's token (or with another)."""
    http, location = await opened(console, "agent")
    for form in ({"kind": "low-balance"}, {"kind": "low-balance", "csrf": "forged"}):
        async with http.post(location + "/messages", data=form, allow_redirects=False) as r:
            assert r.status == 403
    assert outbox(console, FULL) == [] and audit(console, "care.reminder") == []


async def test_the_lookup_is_logged_with_the_masked_number_only(console):
    """The log line says who looked up whom, masked."""
    http, _ = await console.sign_in("agent")
    with capture_logs() as logs:
        status, _, _ = await look_up(console, http, SPELLINGS[0])
    assert status == 303
    [line] = [e for e in logs if e["event"] == "console_subscriber_looked_up"]
    assert (line["agent"], line["msisdn"]) == ("agent1", MASKED)
    assert "13800000001" not in json.dumps(logs, default=str)
