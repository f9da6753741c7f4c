"""One subscriber, as a care agent on the phone sees them (masked number, tier, language, opt-out, zone
history with reasons, the last outbound messages), and one care message written for them to the outbox with
its audit row in the same transaction. Opt-out is checked here; quiet hours and caps apply at send."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.admin.agents import iso
from bot.models import Subscriber
from bot.msisdn import mask
from integrations.sqltx import utc, write
from jobs import campaign_run, outbox, reminder_write
from jobs.audit import Actor, record
from jobs.campaign_tables import Campaign, CampaignMember
from jobs.campaigns import CampaignError, spec_of, target
from jobs.tables import ChurnScore, OptOut, Outbox, TelegramOutbox

SUB, OPT, ZONE, O, TO = (Subscriber.__table__, OptOut.__table__, ChurnScore.__table__, Outbox.__table__,
                         TelegramOutbox.__table__)
C, M = Campaign.__table__, CampaignMember.__table__
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
    channel: str = "sms"


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


COUNTED = ("queued", "suppressed", "already", "skipped", "telegram")


def send_kind(state: Any, actor: Actor, msisdn: str, name: str) -> dict:
    """One reminder kind (a known one: the caller checks) run for this subscriber alone, and its audit row;
    the counts with `outcome` (queued, opted_out, sent_before or not_due) and the reason in English. The
    admin API and the console both send through here. `state` is the app's `AdminState`."""
    from jobs.reminders import run

    now, core = state.clock(), state.core
    counts = run(core.reminders.kinds[name], now, state.db, state.services, core.catalogs, core.reminders,
                 msisdn=msisdn, enqueue=state.enqueue)
    result = {k: getattr(counts, k) for k in COUNTED}
    audit_kind(state.db, actor, msisdn, name, result, now)
    outcome = ("queued" if counts.queued else "opted_out" if counts.suppressed else
               "sent_before" if counts.already else "not_due")
    reason = {"queued": "queued: quiet hours and caps apply at send", "opted_out": "opted out",
              "sent_before": "sent before"}.get(outcome, f"nothing due: {name} does not apply to this subscriber now")
    return {**result, "kind": name, "outcome": outcome, "reason": reason}


def hand_over(state: Any, done: Written) -> None:
    """A written row goes to the senders at once (without a queue the re-scan sends it)."""
    if done.outbox_id is not None and state.enqueue:
        state.enqueue(done.channel, [done.outbox_id])


class Member(NamedTuple):
    msisdn: str
    language: str | None


def send_offer(engine: Engine, actor: Actor, msisdn: str, campaign_id: int, catalogs: Any, now: datetime) -> Written:
    """A launched campaign's approved message and offer, to one subscriber an agent is talking to: never an
    offer made up on the call. Once per campaign and subscriber (its cause `cmp:{id}:{number}`, the offer's
    BOSS key the same), so a repeat is "sent before"; a control-group member is refused (it would spoil the
    measurement), an opted-out one suppressed."""
    def work(conn: Connection) -> Written:
        row = conn.execute(select(C).where(C.c.id == campaign_id).with_for_update()).first()
        if row is None:
            raise CampaignError(404, "not_found", f"there is no campaign {campaign_id}")
        if row.state not in ("running", "done"):
            raise CampaignError(409, "wrong_state", f"campaign {campaign_id} is {row.state}: only a launched "
                                "campaign's message and offer can be sent")
        if spec_of(row).kind is not None:
            raise CampaignError(409, "kind_campaign", f"campaign {campaign_id} sends reminder kind "
                                f"{spec_of(row).kind!r} to the members it is due for: send that kind instead")
        control = conn.execute(select(M.c.control).where(M.c.campaign_id == campaign_id, M.c.msisdn == msisdn)).scalar()
        if control:
            raise CampaignError(409, "control_group", f"this subscriber is in campaign {campaign_id}'s control "
                                "group, which gets nothing so the campaign's effect can be measured")
        cause = campaign_run.cause(campaign_id, msisdn)
        if reminder_write.opted_out(conn, [msisdn]):
            record(conn, actor, "campaign.send_one", target(campaign_id), now, msisdn=mask(msisdn), outcome="suppressed")
            return Written(None, cause, "opted out")
        language = conn.execute(select(SUB.c.language).where(SUB.c.msisdn == msisdn)).scalar()
        sms, tg = campaign_run._rows(campaign_id, row, [Member(msisdn, language)],
                                     reminder_write.chats_for(conn, [msisdn]), catalogs, now)
        ids, done = reminder_write.insert_new(conn, O if sms else TO, sms or tg)
        if not ids:
            return Written(None, cause, "sent before: one message per campaign and subscriber")
        if spec_of(row).offer is not None:
            campaign_run._gotos(conn, campaign_id, spec_of(row).offer, done, now)
        if control is None:
            conn.execute(insert(M).values(campaign_id=campaign_id, msisdn=msisdn, control=False, zone=""))
        conn.execute(update(C).where(C.c.id == campaign_id).values(written=C.c.written + 1))
        record(conn, actor, "campaign.send_one", target(campaign_id), now, msisdn=mask(msisdn),
               channel="telegram" if tg else "sms", outcome="queued")
        return Written(ids[0], cause, "", "telegram" if tg else "sms")

    return write(engine, work)
