"""Old RQ results: jobs in a queue's finished and failed registries that ended before a cutoff are deleted
with their results. RQ keeps a failed job (its arguments, its traceback) a year by default; an operator
reads failures within days, so `[retention] rq_result_hours` bounds what Redis holds."""
from __future__ import annotations

from datetime import datetime, timezone

import redis
from rq import Queue
from rq.job import Job
from rq.registry import BaseRegistry, FailedJobRegistry, FinishedJobRegistry

PAGE = 200  # job ids read and fetched at a time


def purge_results(connection: redis.Redis, queue: str, before: datetime, max_rows: int, keep: str = "") -> int:
    """Delete the finished and failed jobs of `queue` that ended before `before` (at most `max_rows`);
    `keep` is the running job's own id. Returns how many went."""
    q = Queue(queue, connection=connection)
    done = 0
    for registry in (FinishedJobRegistry(queue=q), FailedJobRegistry(queue=q)):
        done += _purge(registry, connection, before, max_rows - done, keep)
    return done


def _purge(registry: BaseRegistry, connection: redis.Redis, before: datetime, budget: int, keep: str) -> int:
    done, start = 0, 0
    while done < budget:
        ids = [i.decode() if isinstance(i, bytes) else i
               for i in connection.zrange(registry.key, start, start + PAGE - 1)]
        if not ids:
            return done
        gone = [(i, job) for i, job in zip(ids, Job.fetch_many(ids, connection=connection))
                if i != keep and (job is None or _ended(job) < before)][:budget - done]
        for job_id, job in gone:
            job.delete(remove_from_queue=False) if job is not None else registry.remove(job_id)
        done += len(gone)
        start += PAGE - len(gone)  # what was removed shifted the rest down
    return done


def _ended(job: Job) -> datetime:
    ended = job.ended_at or job.enqueued_at or job.created_at
    return ended if ended.tzinfo else ended.replace(tzinfo=timezone.utc)
