"""What the dashboard shows, read from the database: subscribers per warning zone and per tier this ISO week
against last week, the running campaigns with their counts so far (`jobs.campaigns.status`) and how far they
got, and the latest opt-outs (masked numbers, times in the operator's zone)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.compliance import classify, compact
from bot.engine.flow import TIERS
from bot.models import Subscriber
from bot.msisdn import mask
from jobs import campaigns
from jobs.churn import week_of
from jobs.churn_tree import ZONES
from jobs.tables import ChurnScore, OptOut

SCORES, SUB, OPT = ChurnScore.__table__, Subscriber.__table__, OptOut.__table__
RUNNING_SHOWN = 20
OPT_OUTS_SHOWN = 20
PROGRESS = ("id", "state", "sent", "delivered", "replied", "accepted")


def weeks(now: datetime) -> tuple[str, str]:
    """(this ISO week, last ISO week) in the operator's zone."""
    return week_of(now)[0], week_of(now - timedelta(days=7))[0]


def _compare(counted: dict[tuple[str, str], int], this: str, last: str, keys: tuple[str, ...], name: str) -> dict:
    rows = [{name: k, "this": counted.get((this, k), 0), "last": counted.get((last, k), 0)} for k in keys]
    return {"this": this, "last": last, "rows": rows}


def zones(engine: Engine, now: datetime) -> dict[str, Any]:
    """Per zone: subscribers this week and last week (0 where a week was not scored)."""
    this, last = weeks(now)
    stmt = (select(SCORES.c.week, SCORES.c.zone, func.count()).where(SCORES.c.week.in_((this, last)))
            .group_by(SCORES.c.week, SCORES.c.zone))
    with engine.connect() as conn:
        counted = {(week, zone): n for week, zone, n in conn.execute(stmt)}
    return _compare(counted, this, last, ZONES, "zone")


def tiers(engine: Engine, now: datetime) -> dict[str, Any]:
    """Per tier (the subscriber's tier now): subscribers scored this week and last week."""
    this, last = weeks(now)
    stmt = (select(SCORES.c.week, SUB.c.tier, func.count()).join(SUB, SUB.c.msisdn == SCORES.c.msisdn)
            .where(SCORES.c.week.in_((this, last))).group_by(SCORES.c.week, SUB.c.tier))
    with engine.connect() as conn:
        counted = {(week, tier): n for week, tier, n in conn.execute(stmt)}
    return _compare(counted, this, last, TIERS, "tier")


def running(engine: Engine, services: Any) -> list[dict[str, Any]]:
    """The running campaigns, newest first, each with its counts so far and `target`: the members to write
    to (control left out), the bar's end."""
    found = campaigns.listing(engine, state="running", limit=RUNNING_SHOWN)
    return [with_target(campaigns.status(engine, row["id"], services)) for row in found]


def with_target(status: dict[str, Any]) -> dict[str, Any]:
    contacted = (status.get("audience") or 0) - (status.get("control") or 0)
    return {**status, "target": max(contacted, status.get("sent") or 0, 1)}


def progress(engine: Engine, services: Any) -> dict[str, Any]:
    """The live part of the dashboard as JSON (`/console/progress.json`): numbers only, no names typed."""
    return {"campaigns": [{k: c[k] for k in (*PROGRESS, "target")} for c in running(engine, services)]}


def opt_outs(engine: Engine, zone: str) -> list[dict[str, Any]]:
    """The latest opt-outs still standing: masked number, when (operator's zone), channel and the keyword
    when the message was one (never the free text: it could hold anything)."""
    stmt = select(OPT).where(OPT.c.opted_out.is_(True)).order_by(OPT.c.changed_at.desc()).limit(OPT_OUTS_SHOWN)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [{"msisdn": mask(r.msisdn), "at": _local(r.changed_at, zone), "channel": r.channel,
             "keyword": compact(r.text) if classify(r.text) == "stop" else None} for r in rows]


def _local(moment: datetime, zone: str) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
