"""A campaign with real processes over loopback: the worker SIGKILLed in the middle of a paced run, a STOP
texted while it runs, and a member's duplicate "1" replies. The simulated gateway's own count is the proof:
every member exactly one message, none to the one who stopped, the offer credited once."""
from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis
from rq import Queue
from sqlalchemy import select

from bot.db import make_engine
from bot.i18n import load_catalogs
from integrations.boss.tables import BossAccount
from integrations.sqltx import utcnow
from jobs import campaigns as c
from jobs.audit import Actor
from jobs.campaign_run import queue_run
from jobs.campaign_tables import CampaignMember
from jobs.tables import Outbox
from tests.processes import ROOT, UNGATED, Stack, bring_up, eventually, gateway_control

AGENT, SUPERVISOR = Actor("li.na", "agent", "test"), Actor("zhao.min", "supervisor", "test")
M, O = CampaignMember.__table__, Outbox.__table__
SUBSCRIBERS = 1000


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url, SHORTCODE_JOBS_CLAIM_SECONDS="2", SHORTCODE_SCHEDULE_OUTBOX_RESCAN="every 1s",
                  SHORTCODE_SCHEDULE_CAMPAIGN_RESCAN="every 1s", SHORTCODE_CAMPAIGNS_RUN_LEASE="2",
                  SHORTCODE_CAMPAIGNS_BATCH="50", **UNGATED)
    await bring_up(stack, SUBSCRIBERS, worker=False)
    stack.start("scheduler", "scheduler")  # queues the outbox and campaign re-scans
    stack.db = make_engine(stack.env["SHORTCODE_DATABASE_URL"])
    stack.queue = Queue(stack.env["SHORTCODE_JOBS_QUEUE"], connection=redis.Redis.from_url(redis_url))
    yield stack
    stack.stop()
    stack.db.dispose()


gateway = gateway_control


def launch(stack: Stack, rate: int | None) -> tuple[int, list[str]]:
    """A campaign to every subscriber with a points offer, launched and queued as the admin API does; its
    members who get a message."""
    spec = {"name": "冬季关怀", "audience": {}, "text": {"en": "We value you.", "zh": "感谢您的一路相伴。"},
            "offer": {"points": 2000}, "rate_per_second": rate}
    now = utcnow()
    cid = c.create(stack.db, spec, AGENT, now)["id"]
    c.preview(stack.db, cid, AGENT, now, load_catalogs(ROOT / "locale"), None)
    c.approve(stack.db, cid, SUPERVISOR, now, 10_000)
    c.launch(stack.db, cid, AGENT, now)
    queue_run(stack.queue)(cid, None)
    with stack.db.connect() as conn:
        members = list(conn.execute(select(M.c.msisdn).where(M.c.campaign_id == cid, M.c.control == False))  # noqa: E712
                       .scalars())
    return cid, members


async def accepted(stack: Stack) -> int:
    return (await gateway(stack, "/control/counts"))["accepted"]


async def test_worker_killed_mid_campaign_each_member_gets_exactly_one_message(stack):
    """SIGKILL while the paced run is writing and the sender is sending: the run's lease lapses, the re-scan
    queues it again, a new worker resumes from its cursor, and the gateway accepts one message per member."""
    await gateway(stack, "/control/faults", {"latency_ms": 100})
    cid, members = launch(stack, rate=150)  # ~900 members: about 6 s of writing
    stack.start("worker", "worker")
    await eventually(lambda: _at_least(stack, 150), timeout=60)
    stack.kill("worker")
    at_kill = c.status(stack.db, cid)
    assert at_kill["state"] == "running" and 150 <= at_kill["written"] < len(members), "kill mid-run"
    stack.start("worker", "worker")
    await eventually(lambda: _finished(stack, cid, len(members)), timeout=120, every=0.25)
    stats = await gateway(stack, "/control/stats")
    mine = [m for m in stats["messages"] if "2,000" in m["text"]]
    print(f"\nkilled at {at_kill['written']} written; gateway submits {stats['submits']}, accepted {stats['accepted']}")
    assert Counter(m["to"] for m in mine) == Counter(members)
    assert stats["accepted"] == len(members) and set(stats["per_reference"].values()) == {1}
    assert c.status(stack.db, cid)["sent"] == len(members)


async def _at_least(stack: Stack, n: int) -> bool:
    return await accepted(stack) >= n


async def _finished(stack: Stack, cid: int, n: int) -> bool:
    status = c.status(stack.db, cid)
    return status["state"] == "done" and status["sent"] == n and await accepted(stack) >= n


async def test_stop_texted_mid_campaign_is_honoured_and_duplicate_replies_credit_once(stack):
    """A member whose turn is late texts STOP while the run goes: their message is suppressed, never sent.
    Another replies "1" twice at once: the points are credited once and the report counts one accepted."""
    await gateway(stack, "/control/faults", {"latency_ms": 50})
    cid, members = launch(stack, rate=200)
    stopper, taker = members[-1], members[0]
    stack.start("worker", "worker")
    await eventually(lambda: _at_least(stack, 20), timeout=60)
    at_preview = c.status(stack.db, cid)["suppressed"]  # opted out before: not members
    await gateway(stack, "/control/inbound", {"from": stopper, "to": "12580", "text": "STOP"})
    await eventually(lambda: _finished(stack, cid, len(members) - 1), timeout=120, every=0.25)
    with stack.db.connect() as conn:
        row = conn.execute(select(O.c.status).where(O.c.cause == f"cmp:{cid}:{stopper}")).scalar_one()
    to_stopper = [m["text"] for m in (await gateway(stack, "/control/stats"))["messages"] if m["to"] == stopper]
    assert row == "suppressed" and not [t for t in to_stopper if "2,000" in t] and to_stopper  # the STOP's answer

    before = _points(stack, taker)
    await asyncio.gather(*(gateway(stack, "/control/inbound", {"from": taker, "to": "12580", "text": "1"})
                           for _ in range(2)))
    replies = await eventually(lambda: _replies(stack, taker, 3), timeout=30)
    assert _points(stack, taker) - before == 2000, replies
    assert any("2,000" in t and ("已领取" in t or "received" in t) for t in replies), replies
    report = c.report(stack.db, cid, _services(stack))
    assert (report["replied"], report["accepted"], report["suppressed"]) == (1, 1, at_preview + 1)


async def _replies(stack: Stack, number: str, n: int) -> list[str] | None:
    texts = [m["text"] for m in (await gateway(stack, "/control/stats"))["messages"] if m["to"] == number]
    return texts if len(texts) >= n else None


def _points(stack: Stack, number: str) -> int:
    with stack.db.connect() as conn:
        return conn.execute(select(BossAccount.points).where(BossAccount.msisdn == number)).scalar_one()


def _services(stack: Stack):
    from integrations.services import simulated

    return simulated(stack.db)
