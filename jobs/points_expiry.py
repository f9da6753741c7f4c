"""End of the points cycle (December to November): every remaining point expires, in batches.

Each subscriber's expiry is one ledger entry keyed by cycle, so a batch that runs twice (a worker died,
the job was retried) expires nothing twice. Run it after the 30th of November:
`queue.enqueue(expire_cycle, database_url, "2026-11-30")`; each batch enqueues the next one.
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import BossAccount
from integrations.sqltx import make_engine

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


def expire_cycle(database_url: str, cycle_end: str, after: str = "", batch: int = BATCH) -> int:
    """RQ job: one batch, then the next batch as a new job until every account was seen."""
    from rq import get_current_job

    engine = make_engine(database_url)
    try:
        expired, last = expire_batch(SimulatedBoss(engine), cycle_end, after, batch)
    finally:
        engine.dispose()
    job = get_current_job()
    if last and job is not None:
        from rq import Queue

        Queue(job.origin, connection=job.connection).enqueue(expire_cycle, database_url, cycle_end, last, batch)
    return expired
