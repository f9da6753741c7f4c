"""What the subscriber page reads besides the admin API's lookup (`bot.admin.care.profile`): the last
messages each way with their delivery status, the reminders and campaign messages they got, and the
campaigns whose offer an agent may send. Texts pass through `scrub`: no full number reaches a page."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from bot.console.words import N_
from bot.models import SmsInbox, TelegramInbox, TelegramLink
from bot.msisdn import scrub
from jobs import campaigns
from jobs.campaigns import aware
from jobs.tables import Outbox, TelegramOutbox

SHOWN = 20  # messages each way
IN_SMS, IN_TG, LINK = SmsInbox.__table__, TelegramInbox.__table__, TelegramLink.__table__
OUT = {"sms": Outbox.__table__, "telegram": TelegramOutbox.__table__}
DELIVERY = (N_("pending"), N_("sending"), N_("sent"), N_("delivered"), N_("failed"), N_("suppressed"),
            N_("capped"), N_("held"), N_("cancelled"))
DIRECTIONS = (N_("in"), N_("out"))
CHANNELS = (N_("sms"), N_("telegram"), N_("ussd"))
OFFERABLE = ("running", "done")  # the states `care.send_offer` accepts


def delivery(status: str, dlr: str | None) -> str:
    """The outbox status, or the gateway's report once it came (Success: delivered; Failed, Rejected: failed)."""
    if dlr == "Success":
        return "delivered"
    return "failed" if dlr in ("Failed", "Rejected") else status


def local(at: datetime, zone: str) -> str:
    return aware(at).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def inbound(conn: Connection, msisdn: str, zone: str) -> list[dict[str, Any]]:
    """The last SMS and Telegram messages from the subscriber (Telegram through their link), newest first."""
    sms = conn.execute(select(IN_SMS.c.received_at, IN_SMS.c.text).where(IN_SMS.c.msisdn == msisdn)
                       .order_by(IN_SMS.c.id.desc()).limit(SHOWN)).all()
    tg = conn.execute(select(IN_TG.c.received_at, IN_TG.c.text, IN_TG.c.data)
                      .join(LINK, LINK.c.user_id == IN_TG.c.user_id).where(LINK.c.msisdn == msisdn)
                      .order_by(IN_TG.c.id.desc()).limit(SHOWN)).all()
    found = [(r.received_at, "sms", r.text) for r in sms] + [(r.received_at, "telegram", r.text or r.data) for r in tg]
    found.sort(key=lambda m: aware(m[0]), reverse=True)
    return [{"at": local(at, zone), "channel": channel, "direction": "in", "text": scrub(text), "status": ""}
            for at, channel, text in found[:SHOWN]]


def _sent(conn: Connection, msisdn: str, channel: str, kinds: tuple[str, ...]) -> list[tuple[datetime, str, Any]]:
    tbl = OUT[channel]
    cols = [tbl.c.created_at, tbl.c.text, tbl.c.status, tbl.c.kind, tbl.c.topic, tbl.c.cause]
    stmt = select(*cols, *([tbl.c.dlr_status] if channel == "sms" else [])).where(
        tbl.c.msisdn == msisdn, tbl.c.text != "")
    rows = conn.execute((stmt.where(tbl.c.kind.in_(kinds)) if kinds else stmt)
                        .order_by(tbl.c.id.desc()).limit(SHOWN)).all()
    return [(r.created_at, channel, r) for r in rows]


def outbound(conn: Connection, msisdn: str, zone: str, kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The last messages to the subscriber by SMS and Telegram (of `kinds`, or all), newest first, with their
    delivery status."""
    found = _sent(conn, msisdn, "sms", kinds) + _sent(conn, msisdn, "telegram", kinds)
    found.sort(key=lambda m: aware(m[0]), reverse=True)
    return [{"at": local(at, zone), "channel": channel, "direction": "out", "text": scrub(r.text),
             "status": delivery(r.status, getattr(r, "dlr_status", None)), "topic": r.topic,
             "campaign": campaign_of(r.cause)} for at, channel, r in found[:SHOWN]]


def campaign_of(cause: str) -> int | None:
    """A campaign message's number from its cause `cmp:{id}:{msisdn}` (the number itself is never shown)."""
    parts = cause.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[0] == "cmp" and parts[1].isdigit() else None


def messages(engine: Engine, msisdn: str, zone: str) -> dict[str, list[dict[str, Any]]]:
    """In, out, and the reminders and campaign messages among everything sent (both kinds of row)."""
    with engine.connect() as conn:
        reminders = outbound(conn, msisdn, zone, ("reminder", "marketing"))
        return {"in": inbound(conn, msisdn, zone), "out": outbound(conn, msisdn, zone), "reminders": reminders}


def offerable(engine: Engine) -> list[dict[str, Any]]:
    """Launched campaigns (running, then done; newest first) whose message and offer may go to one subscriber."""
    return [c for state in OFFERABLE for c in campaigns.listing(engine, state=state)]
