"""End of the points cycle (December to November): every remaining point expires, in batches.

Each subscriber's expiry is one ledger entry keyed by cycle, so a batch that runs twice (a worker died,
the job was retried) expires nothing twice. Run it after the 30th of November:
`queue.enqueue(expire_cycle, "2026-11-30")`; each batch enqueues the next one.
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import BossAccount
from jobs import process

BATCH = 500


def expire_batch(boss: SimulatedBoss, cycle_end: str, after: str = "", batch: int = BATCH) -> tuple[int, str]:
    """Expire the balances of the next `batch` accounts after `after`; returns (accounts seen, last msisdn).
    `cycle_end` is the last day of the cycle; points that arrived after it in Shanghai time are kept."""
    end = datetime.combine(date.fromisoformat(cycle_end), time(23, 59, 59), ZoneInfo("Asia/Shanghai"))
    with boss.engine.connect() as conn:
        rows = conn.execute(select(BossAccount.msisdn).where(BossAccount.msisdn > after, BossAccount.points > 0)
                            .order_by(BossAccount.msisdn).limit(batch)).scalars().all()
    for msisdn in rows:
        boss.expire_points(msisdn, end, f"expiry:{cycle_end}:{msisdn}")
    return len(rows), rows[-1] if rows else ""


def expire_cycle(cycle_end: str, batch: int = BATCH) -> int:
    """RQ job: one batch, then the next batch as a new job until every account was seen. Where the
    chain is (the last number done) stays in a Redis key beside the queue, never in the next job's
    arguments."""
    from rq import Queue, get_current_job

    job = get_current_job()
    cursor = f"{job.origin}:points-expiry:{cycle_end}"
    after = (job.connection.get(cursor) or b"").decode()
    expired, last = expire_batch(SimulatedBoss(process.engine()), cycle_end, after, batch)
    if last:
        job.connection.set(cursor, last, ex=7 * 24 * 3600)
        Queue(job.origin, connection=job.connection).enqueue(expire_cycle, cycle_end, batch)
    else:
        job.connection.delete(cursor)
    return expired
