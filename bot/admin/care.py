"""One subscriber, as a care agent on the phone sees them (masked number, tier, language, opt-out, zone
history with reasons, the last outbound messages), and one care message written for them to the outbox with
its audit row in the same transaction. Opt-out is checked here; quiet hours and caps apply at send."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from bot.admin.agents import iso
from bot.models import Subscriber
from bot.msisdn import mask
from integrations.sqltx import utc, write
from jobs import outbox
from jobs.audit import Actor, record
from jobs.tables import ChurnScore, OptOut, Outbox, TelegramOutbox

SUB, OPT, ZONE, O, TO = (Subscriber.__table__, OptOut.__table__, ChurnScore.__table__, Outbox.__table__,
                         TelegramOutbox.__table__)
RECENT = 10
ZONES = 26  # half a year of weekly zones


def profile(engine: Engine, msisdn: str) -> dict | None:
    """What an agent may see of a subscriber; None when there is no such subscriber."""
    with engine.connect() as conn:
        who = conn.execute(select(SUB).where(SUB.c.msisdn == msisdn)).first()
        if who is None:
            return None
        opt = conn.execute(select(OPT).where(OPT.c.msisdn == msisdn)).first()
        zones = conn.execute(select(ZONE).where(ZONE.c.msisdn == msisdn).order_by(ZONE.c.week.desc())
                             .limit(ZONES)).all()
        return {"msisdn": mask(msisdn), "tier": who.tier, "language": who.language, "timezone": who.timezone,
                "opted_out": bool(opt and opt.opted_out),
                "opt_out": {"channel": opt.channel, "changed_at": iso(opt.changed_at)} if opt else None,
                "zones": [{"week": z.week, "zone": z.zone, "score": z.score, "reasons": z.reasons} for z in zones],
                "messages": recent(conn, msisdn)}


def recent(conn: Connection, msisdn: str) -> list[dict]:
    """The last outbound messages by SMS and Telegram, newest first."""
    found = []
    for channel, tbl in (("sms", O), ("telegram", TO)):
        rows = conn.execute(select(tbl.c.created_at, tbl.c.status, tbl.c.kind, tbl.c.text)
                            .where(tbl.c.msisdn == msisdn).order_by(tbl.c.id.desc()).limit(RECENT))
        found += [{"at": iso(r.created_at), "channel": channel, "kind": r.kind, "status": r.status, "text": r.text}
                  for r in rows]
    return sorted(found, key=lambda m: m["at"], reverse=True)[:RECENT]


def language_of(engine: Engine, msisdn: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(SUB.c.language).where(SUB.c.msisdn == msisdn)).scalar()


@dataclass(frozen=True)
class Written:
    outbox_id: int | None  # None: not written (opted out)
    cause: str
    reason: str


def write_care(engine: Engine, actor: Actor, msisdn: str, text: str, language: str, now: datetime) -> Written:
    """One care message (kind reminder, cap class care) and its audit row, in one transaction."""
    cause = f"care:{uuid.uuid4()}"

    def work(conn: Connection) -> Written:
        opt = conn.execute(select(OPT.c.opted_out).where(OPT.c.msisdn == msisdn)).scalar()
        if opt:
            record(conn, actor, "care.message", mask(msisdn), now, language=language, outcome="suppressed")
            return Written(None, cause, "opted out")
        outbox.add(conn, msisdn, text, cause, utc(now), "reminder", "care", "care")
        row = conn.execute(select(O.c.id).where(O.c.cause == cause)).scalar_one()
        record(conn, actor, "care.message", mask(msisdn), now, language=language, cause=cause, outcome="queued")
        return Written(row, cause, "")

    return write(engine, work)


def audit_kind(engine: Engine, actor: Actor, msisdn: str, kind: str, counts: dict, now: datetime) -> None:
    write(engine, lambda conn: record(conn, actor, "care.reminder", mask(msisdn), now, kind=kind, **counts))
