"""The weekly scoring's parts under faults, with real processes: one of two `shortcode worker`s SIGKILLed in
the middle of a part leaves it claimed; once its lease runs out the scheduler's re-scan (`churn-rescan`)
hands it to the other worker by itself (nothing restarted), and the week ends with every subscriber scored
exactly once, with the zones one process gives."""
from __future__ import annotations

import asyncio

import pytest
import redis
from rq import Queue
from sqlalchemy import func, select

from bot.db import make_engine, upgrade
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.usage_demo import COLUMNS, history
from jobs import churn_parts
from jobs.churn import queue_parts, score_all
from jobs.tables import ChurnPart, ChurnScore
from tests.processes import Stack, eventually

N, LEASE_S = 40_000, 3  # two parts of 20,000: over half a second each, room to land a kill


def seed_usage(url: str, n: int) -> None:
    raw = make_engine(url).raw_connection()
    sql = f"INSERT INTO boss_usage ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    raw.cursor().executemany(sql, [row for p in history(((f"+86138{i:08d}", "regular") for i in range(n)),
                                                        "2026-12") for row in p.usage])
    raw.commit()
    raw.close()


@pytest.fixture
def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url)
    upgrade(stack.env["SHORTCODE_DATABASE_URL"])
    seed_usage(stack.env["SHORTCODE_DATABASE_URL"], N)
    stack.db = make_engine(stack.env["SHORTCODE_DATABASE_URL"])
    stack.queue = Queue(stack.env["SHORTCODE_JOBS_QUEUE"], connection=redis.Redis.from_url(redis_url))
    yield stack
    stack.stop()
    stack.db.dispose()


def state(stack: Stack) -> tuple[dict[int, str], int]:
    with stack.db.connect() as conn:
        parts = dict(conn.execute(select(ChurnPart.part, ChurnPart.state)).all())
        return parts, conn.execute(select(func.count()).select_from(ChurnScore).where(
            ChurnScore.week == "2026-W49")).scalar_one()


async def test_a_part_killed_mid_way_is_redone_by_the_other_worker_and_everyone_is_scored_once(stack):
    queue_parts(stack.db, stack.queue, "2026-W49", "2026-12", {}, parts=2, lease_s=LEASE_S)
    stack.start("scheduler", "scheduler", SHORTCODE_SCHEDULE_CHURN_RESCAN="every 1s",
                SHORTCODE_SCHEDULE_REMINDERS="false")
    stack.start("doomed", "worker")
    await eventually(lambda: _mid_part(stack), timeout=60, every=0.01)
    stack.kill("doomed")
    parts, written = state(stack)
    assert "running" in parts.values() and 0 < written < N, (parts, written)
    stack.start("survivor", "worker")  # was there all along in production; started now so it took no part
    await asyncio.sleep(1)
    assert "running" in state(stack)[0].values()  # its lease still runs: nobody takes it yet
    await eventually(lambda: churn_parts.progress(stack.db)[0].complete, timeout=90)
    assert churn_parts.progress(stack.db) == [churn_parts.Progress("2026-W49", 2, 2, N)]
    with stack.db.connect() as conn:
        rows = conn.execute(select(ChurnScore.msisdn, ChurnScore.zone).where(ChurnScore.week == "2026-W49")).all()
    assert len(rows) == len({m for m, _ in rows}) == N
    score_all(SimulatedBoss(stack.db), "2026-W48", "2026-12")  # the same zones as one process scoring it
    with stack.db.connect() as conn:
        alone = conn.execute(select(ChurnScore.msisdn, ChurnScore.zone).where(ChurnScore.week == "2026-W48")).all()
    assert sorted(rows) == sorted(alone)


async def _mid_part(stack: Stack) -> bool:
    parts, written = state(stack)
    return "running" in parts.values() and written > 0
