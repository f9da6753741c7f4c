"""RQ's cron scheduler over the table, on a real Redis and a fixed clock: each slot queued once, a
restart or a second scheduler mid-slot queues nothing again, a failing job is logged and the next slot
runs, a missed slot is caught up only while it is recent."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import redis
from rq import Queue
from structlog.testing import capture_logs

from jobs.schedule import Periodic, cycle_ended
from jobs.scheduler import Scheduler
from jobs.worker import ThreadWorker

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)


def add(a: int, b: int) -> int:
    return a + b


def boom() -> None:
    raise RuntimeError("the partner refused")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def conn(redis_url):
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture
def queue(conn):
    return Queue(f"sched{uuid.uuid4().hex[:8]}", connection=conn)


def scheduler(conn, queue, clock, *entries: Periodic, catch_up: float = 3600) -> Scheduler:
    return Scheduler(conn, list(entries), queue.name, SHANGHAI, catch_up, clock)


def run_all(queue: Queue) -> None:
    ThreadWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")


ADD = Periodic("add", add, "every 1m", {"a": 2, "b": 3})


def test_a_slot_is_queued_once_however_often_the_scheduler_looks(conn, queue):
    clock = Clock(NOW + timedelta(seconds=10))
    sched = scheduler(conn, queue, clock, ADD)
    for seconds in (10, 20, 59):
        clock.now = NOW + timedelta(seconds=seconds)
        sched.tick()
    assert queue.count == 1
    job = queue.jobs[0]
    assert (job.kwargs, job.meta["slot"]) == ({"a": 2, "b": 3}, "2026-12-02T17:00:00+08:00")
    clock.now = NOW + timedelta(seconds=60)  # the next slot
    sched.tick()
    assert queue.count == 2


def test_a_scheduler_restarted_mid_slot_does_not_queue_it_again(conn, queue):
    """RQ's own CronScheduler runs an interval job at once on every start (and a second scheduler
    would queue it too): the slot's job id, queued with unique=True, refuses the second one, even after
    the first has run."""
    clock = Clock(NOW + timedelta(seconds=5))
    scheduler(conn, queue, clock, ADD).tick()
    run_all(queue)
    clock.now = NOW + timedelta(seconds=30)
    with capture_logs() as logs:
        restarted = scheduler(conn, queue, clock, ADD)
        restarted.tick()
    assert queue.count == 0 and queue.finished_job_registry.count == 1
    assert [e["event"] for e in logs if e["event"].startswith("periodic")] == ["periodic_slot_already_queued"]
    clock.now = NOW + timedelta(seconds=60)
    restarted.tick()
    assert queue.count == 1  # the next slot is its own


def test_two_schedulers_at_once_queue_each_slot_once(conn, queue):
    clock = Clock(NOW)
    first, second = scheduler(conn, queue, clock, ADD), scheduler(conn, queue, clock, ADD)
    for _ in range(3):
        first.tick()
        second.tick()
        clock.now += timedelta(minutes=1)
    assert queue.count == 3


def test_points_expiry_fires_at_0005_in_shanghai_for_the_cycle_ending_nov_30(conn, queue):
    entry = Periodic("points-expiry", add, "5 0 1 12 *", per_slot=lambda slot: {"a": 0, "b": 0, **cycle_ended(slot)})
    clock = Clock(datetime(2026, 11, 30, 16, 4, 59, tzinfo=UTC))  # Dec 1 00:04:59 in Shanghai
    sched = scheduler(conn, queue, clock, entry)
    sched.tick()
    assert queue.count == 0
    clock.now += timedelta(seconds=1)
    sched.tick()
    assert [job.kwargs for job in queue.jobs] == [{"a": 0, "b": 0, "cycle_end": "2026-11-30"}]
    assert queue.jobs[0].meta["slot"] == "2026-12-01T00:05:00+08:00"


def test_a_slot_missed_while_the_scheduler_was_down_is_caught_up_only_while_recent(conn, queue):
    entry = Periodic("daily", add, "0 9 * * *", {"a": 1, "b": 1})
    nine = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    scheduler(conn, queue, Clock(nine + timedelta(minutes=20)), entry, catch_up=3600).tick()
    assert queue.count == 1  # started 20 minutes late: the 09:00 run is not lost
    other = Queue(queue.name + "b", connection=conn)
    scheduler(conn, other, Clock(nine + timedelta(hours=3)), entry, catch_up=3600).tick()
    assert other.count == 0  # three hours late: skipped, the next day's runs


def test_a_failing_periodic_job_is_logged_and_the_next_slot_runs(conn, queue):
    clock = Clock(NOW)
    sched = scheduler(conn, queue, clock, Periodic("boom", boom, "every 1m"))
    with capture_logs() as logs:
        for _ in range(2):
            sched.tick()
            run_all(queue)
            clock.now += timedelta(minutes=1)
    failed = [e for e in logs if e["event"] == "periodic_job_failed"]
    assert [(e["job"], e["error"]) for e in failed] == [("boom", "RuntimeError")] * 2
    assert failed[1]["slot"] == "2026-12-02T17:01:00+08:00"
    assert queue.failed_job_registry.count == 2


def test_an_entry_that_cannot_build_its_arguments_does_not_hold_the_others_back(conn, queue):
    broken = Periodic("broken", add, "every 1m", per_slot=lambda slot: 1 / 0)
    with capture_logs() as logs:
        scheduler(conn, queue, Clock(NOW), broken, ADD).tick()
    assert [job.meta["periodic"] for job in queue.jobs] == ["add"]
    assert any(e["event"] == "periodic_enqueue_failed" and e["error"] == "ZeroDivisionError" for e in logs)


def test_the_scheduler_registers_with_rqs_cron_monitoring(conn, queue):
    """RQ's own records: the scheduler's registration and each cron job's history."""
    from rq.cron import CronScheduler, get_cron_job_ids

    sched = scheduler(conn, queue, Clock(NOW), ADD)
    sched.register_birth()
    try:
        sched.tick()
        assert sched.name in [s.name for s in CronScheduler.all(conn)]
        assert queue.jobs[0].id in get_cron_job_ids("add", conn)
    finally:
        sched.register_death()
