"""Deferred jobs (`jobs.schedule.later`: RQ's `enqueue_at`/`enqueue_in`) run when due: the workers run
RQ's scheduler, the in-process one on the embedded store and `shortcode worker` on a real Redis."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import fakeredis
import redis
from rq import Queue

from jobs.schedule import later
from jobs.worker import InprocessWorker
from tests.processes import Stack, eventually


def finished(job, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while job.get_status(refresh=True) != "finished" and time.monotonic() < deadline:
        time.sleep(0.05)
    return job.get_status(refresh=True) == "finished"


def test_the_inprocess_worker_runs_a_deferred_job_when_it_is_due():
    conn = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    worker = InprocessWorker(conn, "deferred", poll_s=0.05)
    worker.start()
    try:
        job = later(Queue("deferred", connection=conn), timedelta(seconds=1), "operator.add", 2, 3)
        assert job.get_status() == "scheduled"
        assert finished(job) and job.return_value() == 5
    finally:
        worker.stop()


async def test_shortcode_worker_runs_a_job_deferred_to_a_time(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url)
    try:
        stack.start("worker", "worker")
        with redis.Redis.from_url(redis_url) as conn:
            queue = Queue(stack.env["SHORTCODE_JOBS_QUEUE"], connection=conn)
            job = later(queue, datetime.now(timezone.utc) + timedelta(seconds=1), "operator.add", 2, 3)
            assert job.get_status() == "scheduled"
            await eventually(lambda: job.get_status(refresh=True) == "finished", timeout=30, every=0.2)
            assert job.return_value() == 5
    finally:
        stack.stop()
