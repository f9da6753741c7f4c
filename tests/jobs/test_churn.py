"""The weekly value-loss scoring: one zone per subscriber and week, however often a week is scored, every
week kept; on SQLite and PostgreSQL; on the schedule with [churn] as its arguments; split into parts run as RQ
jobs, each subscriber in exactly one part, each part done once, a dead worker's part done again."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import redis
from rq import Queue
from sqlalchemy import func, insert, select, update

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import BossUsage
from jobs import process
from jobs import churn_parts
from jobs.churn import queue_parts, score_all, score_part, score_week, week_of
from jobs.churn_tree import ZONES, Thresholds, kept_reasons
from jobs.schedule import periodic
from jobs.tables import ChurnPart, ChurnScore
from jobs.worker import ThreadWorker

NOW = datetime(2026, 12, 2, 2, tzinfo=timezone.utc)
N = 60


@pytest.fixture
def boss(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, N, now=NOW)
    yield SimulatedBoss(engine, page=25)
    engine.dispose()


def kept(engine, week: str | None = None) -> list:
    query = select(ChurnScore.msisdn, ChurnScore.week, ChurnScore.zone, ChurnScore.score, ChurnScore.reasons)
    with engine.connect() as conn:
        return conn.execute(query.where(ChurnScore.week == week) if week else query).all()


def test_week_of_is_the_iso_week_and_month_in_shanghai():
    assert week_of(datetime(2026, 11, 30, 17, tzinfo=timezone.utc)) == ("2026-W49", "2026-12")  # Dec 1, 01:00
    assert week_of(datetime(2027, 1, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))) == ("2026-W53", "2027-01")


def test_a_week_scored_twice_keeps_one_score_per_subscriber(boss):
    first = score_all(boss, "2026-W49", "2026-12")
    rows = kept(boss.engine)
    second = score_all(boss, "2026-W49", "2026-12")
    assert first == second and first.subscribers == N == sum(first.zones.values())
    assert sorted(kept(boss.engine)) == sorted(rows) and len({r.msisdn for r in rows}) == N
    assert {r.zone for r in rows} <= set(ZONES) and all(0 <= r.score <= 1 for r in rows)
    assert all(kept_reasons(r.reasons) for r in rows)  # every score has its path


def test_every_week_is_kept_so_a_move_from_green_to_red_shows(boss):
    """A subscriber whose last month collapses moves zone between two weeks; the earlier week stays."""
    score_all(boss, "2026-W49", "2026-12")
    msisdn = next(r.msisdn for r in kept(boss.engine) if r.zone in ("blue", "green"))
    with boss.engine.begin() as conn:
        conn.execute(update(BossUsage).where(BossUsage.msisdn == msisdn, BossUsage.month == "2026-11").values(
            arpu_fen=BossUsage.arpu_fen / 3, offnet_calls=BossUsage.calls * 0.6, active_days=5, complaints=2))
    score_all(boss, "2026-W50", "2026-12")
    zones = {r.week: r.zone for r in kept(boss.engine) if r.msisdn == msisdn}
    assert zones["2026-W49"] in ("blue", "green") and zones["2026-W50"] in ("yellow", "red")
    assert len(kept(boss.engine)) == 2 * N


def test_dormant_subscribers_are_white_and_bounds_come_from_the_arguments(boss):
    with boss.engine.begin() as conn:
        conn.execute(update(BossUsage).where(BossUsage.month == "2026-11").values(active_days=3))
    assert score_all(boss, "2026-W49", "2026-12", dormant_days=3).zones["white"] == N
    everyone_red = score_all(boss, "2026-W50", "2026-12", Thresholds(red=0.001, yellow=0.0005, green=0.0001))
    assert everyone_red.zones["red"] + everyone_red.zones["blue"] == N and everyone_red.zones["red"] > 0


@pytest.fixture
def queue(redis_url, boss):
    process.use(boss.engine)
    with redis.Redis.from_url(redis_url) as conn:
        yield Queue(f"churn{uuid.uuid4().hex[:8]}", connection=conn)


def run_all(queue: Queue) -> None:
    ThreadWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")


def test_the_weekly_job_queues_the_parts_and_the_workers_score_everyone_once(boss, queue):
    queue.enqueue(score_week, "2026-W49", "2026-12", parts=5)
    run_all(queue)
    assert queue.finished_job_registry.count == 1 + 5 and queue.failed_job_registry.count == 0
    assert churn_parts.progress(boss.engine) == [churn_parts.Progress("2026-W49", 5, 5, N)]
    assert len(kept(boss.engine, "2026-W49")) == N


def test_parts_cover_every_subscriber_exactly_once_and_score_as_the_whole_week(boss, queue):
    """Seven ranges that meet: their subscribers add up to everyone, and the zones equal one run's."""
    whole = sorted(r[:1] + r[2:] for r in (score_all(boss, "2026-W48", "2026-12"), kept(boss.engine))[1])
    assert queue_parts(boss.engine, queue, "2026-W49", "2026-12", {}, parts=7) == 7
    with boss.engine.connect() as conn:
        ranges = conn.execute(select(ChurnPart.lo, ChurnPart.hi).order_by(ChurnPart.part)).all()
    assert ranges[0].lo == "" and ranges[-1].hi is None and all(a.hi == b.lo for a, b in zip(ranges, ranges[1:]))
    run_all(queue)
    with boss.engine.connect() as conn:
        counts = conn.execute(select(ChurnPart.subscribers).order_by(ChurnPart.part)).scalars().all()
    assert sum(counts) == N and all(counts)
    assert sorted(r[:1] + r[2:] for r in kept(boss.engine, "2026-W49")) == whole


def test_a_part_run_twice_writes_once(boss, queue):
    queue_parts(boss.engine, queue, "2026-W49", "2026-12", {}, parts=2)
    run_all(queue)
    with boss.engine.begin() as conn:  # an agent-visible mark: a second run that wrote would replace it
        conn.execute(update(ChurnScore).where(ChurnScore.week == "2026-W49").values(zone="marked"))
    assert score_part("2026-W49", 0) == {"week": "2026-W49", "part": 0, "skipped": True}
    assert queue_parts(boss.engine, queue, "2026-W49", "2026-12", {}) == 0  # the week is complete: nothing queued
    assert {r.zone for r in kept(boss.engine, "2026-W49")} == {"marked"}


def test_a_part_whose_worker_died_is_redone_once_its_lease_runs_out(boss, queue):
    queue_parts(boss.engine, queue, "2026-W49", "2026-12", {}, parts=4)
    assert churn_parts.claim(boss.engine, "2026-W49", 2, datetime.now(timezone.utc))  # a worker took it, then died
    run_all(queue)
    [week] = churn_parts.progress(boss.engine)
    assert (week.done, week.parts, week.complete) == (3, 4, False) and 0 < week.subscribers < N
    assert queue_parts(boss.engine, queue, "2026-W49", "2026-12", {}) == 1
    run_all(queue)  # the lease still runs: the part is left to the worker that holds it
    assert not churn_parts.progress(boss.engine)[0].complete
    with boss.engine.begin() as conn:
        conn.execute(update(ChurnPart).where(ChurnPart.part == 2).values(
            lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert queue_parts(boss.engine, queue, "2026-W49", "2026-12", {}) == 1
    run_all(queue)
    assert churn_parts.progress(boss.engine) == [churn_parts.Progress("2026-W49", 4, 4, N)]
    assert len(kept(boss.engine, "2026-W49")) == N


def test_status_counts_parts_per_week_newest_first(boss, queue):
    queue_parts(boss.engine, queue, "2026-W48", "2026-12", {}, parts=3)
    run_all(queue)
    queue_parts(boss.engine, queue, "2026-W49", "2026-12", {}, parts=3)
    assert churn_parts.progress(boss.engine) == [churn_parts.Progress("2026-W49", 0, 3, 0),
                                                 churn_parts.Progress("2026-W48", 3, 3, N)]
    assert churn_parts.progress(boss.engine, "2026-W48")[0].complete


@pytest.mark.parametrize("first, last, parts, expected", [
    ("+8613800000001", "+8613800000100", 4, [("", "+8613800000025"), ("+8613800000025", "+8613800000050"),
                                             ("+8613800000050", "+8613800000075"), ("+8613800000075", None)]),
    ("+8613800000001", "+8613800000002", 4, [("", None)]),  # too few numbers to split
    ("+8613800000001", "+86138000001", 4, [("", None)]), (None, None, 4, [("", None)])])
def test_parts_split_the_numbers_evenly_and_leave_both_ends_open(first, last, parts, expected):
    assert churn_parts.cuts(first, last, parts) == expected


def test_a_subscriber_without_usage_is_not_scored(boss):
    with boss.engine.begin() as conn:
        conn.execute(insert(BossUsage.__table__).values(  # usage only long before the window
            msisdn="+8613999999999", month="2025-01", arpu_fen=1, voice_min=1, data_mb=1, sms=1, topup_fen=1,
            active_days=1, calls=1, offnet_calls=0, complaints=0, arrears_days=0, tenure_months=1))
    assert score_all(boss, "2026-W49", "2026-12").subscribers == N
    with boss.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ChurnScore)).scalar_one() == N


def test_the_schedule_runs_the_scoring_weekly_with_the_churn_settings(settings_with):
    entry = {e.name: e for e in periodic(settings_with(churn_red="0.7"))}["churn-score"]
    assert entry.when == "30 2 * * 1" and entry.func is score_week and entry.timeout >= 60
    args = entry.arguments(datetime(2026, 12, 7, 2, 30, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert args["week"] == "2026-W50" and args["month"] == "2026-12" and args["red"] == 0.7
    assert args["tree"].endswith("menus/churn_tree.json")
