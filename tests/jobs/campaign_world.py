"""A small world for campaign tests: subscribers with languages, tiers, churn zones, usage and opt-outs, the
real catalogs, and actors of each role. Only our own tables: nothing here is faked but the clock."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import insert

from integrations.boss.tables import BossUsage
from jobs.audit import Actor
from jobs.tables import ChurnScore, OptOut
from tests.jobs.reminder_fakes import CATALOGS, database  # noqa: F401  (the real catalogs, re-exported)

UTC = timezone.utc
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Shanghai, ISO week 2026-W49
WEEK = "2026-W49"
LI = Actor("li.na", "agent", "http 127.0.0.1")
WANG = Actor("wang.wei", "agent", "http 127.0.0.1")
ZHAO = Actor("zhao.min", "supervisor", "http 127.0.0.1")
QIAN = Actor("qian.admin", "admin", "cli")
ZONES = ("blue", "green", "yellow", "red", "white")
TIERS = ("regular", "silver", "gold", "diamond")


def number(i: int) -> str:
    return f"+861380000{i:04d}"


def people(n: int) -> list[dict]:
    """Subscriber i: English every 5th, tier by i % 4, zone by i % 5, tenure i % 36 months, active unless
    i % 7 == 0, numbers +8613800000000... (i < 5000: the prefix +8613800001 holds 1000 to 1999)."""
    return [{"msisdn": number(i), "language": "en" if i % 5 == 0 else "zh_Hans", "tier": TIERS[i % 4],
             "zone": ZONES[i % 5], "tenure": i % 36, "active": 0 if i % 7 == 0 else 12} for i in range(n)]


def world(url: str, n: int = 100, opted_out: tuple[int, ...] = (), week: str = WEEK):
    """A migrated database with `n` people (see `people`), their zones in `week`, two months of usage, and
    these people opted out."""
    everyone = people(n)
    engine = database(url, [(p["msisdn"], p["language"], "Asia/Shanghai", p["tier"]) for p in everyone])
    usage = [{c.name: 0 for c in BossUsage.__table__.columns} | {"msisdn": p["msisdn"], "month": month,
             "tenure_months": p["tenure"] - back, "active_days": p["active"]}
             for p in everyone for back, month in ((1, "2026-10"), (0, "2026-11"))]
    with engine.begin() as conn:
        if everyone:
            conn.execute(insert(ChurnScore.__table__), [{"msisdn": p["msisdn"], "week": week, "zone": p["zone"],
                                                         "score": 0.5, "reasons": ""} for p in everyone])
            conn.execute(insert(BossUsage.__table__), usage)
        for i in opted_out:
            conn.execute(insert(OptOut.__table__).values(msisdn=number(i), opted_out=True, channel="sms",
                                                         text="STOP", changed_at=NOW))
    return engine


def spec(**changes) -> dict:
    """A valid campaign spec as a request's JSON, with some fields changed."""
    base = {"name": "冬季关怀", "audience": {"zones": ["red", "yellow"]},
            "text": {"en": "We value you.", "zh": "感谢您的一路相伴。"}, "offer": {"points": 2000}}
    return {**base, **changes}


@pytest.fixture
def engine(tmp_path):
    """A campaign world of 60 subscribers on SQLite."""
    engine = world(f"sqlite:///{tmp_path}/campaigns.db", 60)
    yield engine
    engine.dispose()


@pytest.fixture
def both(sql_url):
    """The same on SQLite and PostgreSQL."""
    engine = world(sql_url, 60)
    yield engine
    engine.dispose()
