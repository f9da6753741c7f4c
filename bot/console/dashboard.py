"""What the dashboard shows, read from the database: subscribers per warning zone this ISO week against last
week, and the running campaigns with their counts so far (`jobs.campaigns.status`)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from jobs import campaigns
from jobs.churn import week_of
from jobs.churn_tree import ZONES
from jobs.tables import ChurnScore

SCORES = ChurnScore.__table__
RUNNING_SHOWN = 20


def weeks(now: datetime) -> tuple[str, str]:
    """(this ISO week, last ISO week) in the operator's zone."""
    return week_of(now)[0], week_of(now - timedelta(days=7))[0]


def zones(engine: Engine, now: datetime) -> dict[str, Any]:
    """Per zone: subscribers this week and last week (0 where a week was not scored)."""
    this, last = weeks(now)
    stmt = (select(SCORES.c.week, SCORES.c.zone, func.count()).where(SCORES.c.week.in_((this, last)))
            .group_by(SCORES.c.week, SCORES.c.zone))
    with engine.connect() as conn:
        counted = {(week, zone): n for week, zone, n in conn.execute(stmt)}
    rows = [{"zone": z, "this": counted.get((this, z), 0), "last": counted.get((last, z), 0)} for z in ZONES]
    return {"this": this, "last": last, "rows": rows}


def running(engine: Engine, services: Any) -> list[dict[str, Any]]:
    """The running campaigns, newest first, each with sent, delivered, replied and accepted so far."""
    found = campaigns.listing(engine, state="running", limit=RUNNING_SHOWN)
    return [campaigns.status(engine, row["id"], services) for row in found]
