"""A campaign's audience: subscribers matching its filters in the latest churn week at or before the preview,
opted-out ones left out (and counted), each one either in the control group or not by a hash of the campaign
and the number, so the same audience always splits the same way. Written as `campaign_member` rows."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import and_, column, delete, exists, func, or_, select, table, true
from sqlalchemy.engine import Connection

from integrations.boss.tables import BossUsage
from integrations.boss.usage_demo import month_of
from jobs.campaign_spec import Audience
from jobs.campaign_tables import CampaignMember
from jobs.churn import week_of
from jobs.tables import ChurnScore, OptOut

# the subscriber table belongs to the runtime (bot/models.py); a job names only the columns it reads
SUBSCRIBER = table("subscriber", column("msisdn"), column("tier"), column("language"))
SCORES, OPT, USAGE, MEMBERS = ChurnScore.__table__, OptOut.__table__, BossUsage.__table__, CampaignMember.__table__
PAGE = 5_000


def in_control(campaign: int, msisdn: str, share: float) -> bool:
    """Held back or not: a stable hash of campaign and number, uniform in [0, 1), below the share. The same
    campaign splits the same way at every preview; another campaign splits the same people differently."""
    digest = hashlib.blake2b(f"{campaign}:{msisdn}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


@dataclass
class Chosen:
    """What a selection found: members (control included), the control group, and the opted out."""

    week: str
    audience: int = 0
    control: int = 0
    suppressed: int = 0


def latest_week(conn: Connection, now: datetime) -> str:
    """The newest scored ISO week at or before `now` ("" when nothing was scored yet)."""
    return conn.execute(select(func.max(SCORES.c.week)).where(SCORES.c.week <= week_of(now)[0])).scalar() or ""


def _usage_filters(conn: Connection, audience: Audience, now: datetime) -> list:
    """Tenure and activity from the BOSS's monthly usage: tenure as of the latest month summarised; active
    within N days = any active day in the months that cover those N days (the summaries are monthly)."""
    out = []
    if audience.min_tenure_months is not None:
        latest = conn.execute(select(func.max(USAGE.c.month)).where(USAGE.c.month <= month_of(now.date()))).scalar()
        out.append(exists().where(USAGE.c.msisdn == SUBSCRIBER.c.msisdn, USAGE.c.month == (latest or ""),
                                  USAGE.c.tenure_months >= audience.min_tenure_months))
    if audience.active_within_days is not None:
        since = month_of((now - timedelta(days=audience.active_within_days)).date())
        out.append(exists().where(USAGE.c.msisdn == SUBSCRIBER.c.msisdn, USAGE.c.month >= since,
                                  USAGE.c.active_days > 0))
    return out


def query(conn: Connection, audience: Audience, week: str, now: datetime):
    """Matching subscribers with their zone that week and whether they opted out, in number order."""
    joined = SUBSCRIBER.outerjoin(SCORES, and_(SCORES.c.msisdn == SUBSCRIBER.c.msisdn, SCORES.c.week == week)) \
        .outerjoin(OPT, and_(OPT.c.msisdn == SUBSCRIBER.c.msisdn, OPT.c.opted_out == true()))
    stmt = select(SUBSCRIBER.c.msisdn, SCORES.c.zone, OPT.c.msisdn.label("stopped")).select_from(joined)
    filters = [SCORES.c.zone.in_(audience.zones)] if audience.zones else []
    filters += [SUBSCRIBER.c.tier.in_(audience.tiers)] if audience.tiers else []
    filters += [SUBSCRIBER.c.language.in_(audience.languages)] if audience.languages else []
    filters += [or_(*(SUBSCRIBER.c.msisdn.startswith(p) for p in audience.prefixes))] if audience.prefixes else []
    return stmt.where(*filters, *_usage_filters(conn, audience, now))


def _pages(conn: Connection, stmt) -> Iterator[list]:
    """Keyset pages on the caller's connection (the selection is one transaction)."""
    after = None
    while True:
        page = stmt.order_by(SUBSCRIBER.c.msisdn).limit(PAGE)
        rows = conn.execute(page if after is None else page.where(SUBSCRIBER.c.msisdn > after)).all()
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        after = rows[-1].msisdn


def choose(conn: Connection, campaign: int, audience: Audience, share: float, now: datetime) -> Chosen:
    """Replace the campaign's members by today's selection, in the caller's transaction."""
    chosen = Chosen(latest_week(conn, now))
    conn.execute(delete(MEMBERS).where(MEMBERS.c.campaign_id == campaign))
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO campaign_member (campaign_id, msisdn, control, zone) VALUES ({mark}, {mark}, {mark}, {mark})"
    for rows in _pages(conn, query(conn, audience, chosen.week, now)):
        members = []
        for r in rows:
            if r.stopped is not None:
                chosen.suppressed += 1
                continue
            held = in_control(campaign, r.msisdn, share)
            chosen.control += held
            members.append((campaign, r.msisdn, held, r.zone or ""))
        chosen.audience += len(members)
        if members:
            conn.exec_driver_sql(sql, members)
    return chosen


def size(conn: Connection, audience: Audience, now: datetime) -> Chosen:
    """How many the preview would choose today (opted out counted apart), without writing anything: the same
    `query`, counted. The console's wizard shows it live; the control share is the preview's to split."""
    chosen = Chosen(latest_week(conn, now))
    found = query(conn, audience, chosen.week, now).subquery()
    total, stopped = conn.execute(select(func.count(), func.count(found.c.stopped))).one()
    chosen.audience, chosen.suppressed = int(total) - int(stopped), int(stopped)
    return chosen
