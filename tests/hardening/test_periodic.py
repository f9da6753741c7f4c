"""The periodic work of `serve` (reconciliation, re-scans) outlives a round that fails: Redis killed, a round
fails and is logged, Redis back, the next rounds queue their jobs again."""
from __future__ import annotations

import asyncio

from rq import Queue
from structlog.testing import capture_logs

from tests.processes import eventually


def queued(server, queue: str) -> set[str]:
    """The functions of the jobs waiting in the queue."""
    with server.client() as client:
        return {job.func_name for job in Queue(queue, connection=client).jobs if job is not None}


async def test_reconciliation_and_rescan_are_queued_again_after_a_round_failed_on_redis(
        own_redis, settings_with, serve, db):
    """No in-process worker, so queued jobs stay visible; rounds every 0.2 s."""
    queue = "periodic"
    s = settings_with(redis_url=own_redis.url, jobs_queue=queue, jobs_reconcile_every=0.2, jobs_rescan_every=0.2)
    wanted = {"jobs.reconcile.reconcile_job", "jobs.outbox.rescan"}
    with capture_logs() as logs:
        await serve(s)
        await eventually(lambda: queued(own_redis, queue) >= wanted, timeout=10)

        own_redis.kill()
        await asyncio.sleep(1)  # five rounds of each meet a dead Redis
        own_redis.start()  # empty: what is queued from now on was queued by a later round
        await eventually(lambda: queued(own_redis, queue) >= wanted, timeout=10)
    failed = {e.get("task") for e in logs if e["event"] == "periodic_round_failed"}
    assert failed >= {"reconcile", "rescan"}, "a failed round must be logged"
