"""The reconciler outlives a Redis outage: a real `shortcode scheduler` and `shortcode worker`, the
redis-server SIGKILLed and started again (empty) under them, nothing restarting either. A lapsed paid
hold is refunded before the outage and another one after it."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import create_engine

from bot.db import upgrade
from bot.tools.seed import seed_demo
from integrations.services import simulated
from integrations.sqltx import utcnow
from tests.processes import Stack, eventually

OUTAGE = 3  # seconds Redis stays down


def lapsed_paid_hold(services, msisdn: str, key: str) -> None:
    """A golf hold paid with 10,000 points that lapsed an hour ago, never booked."""
    services.golf.hold(1, date.today() + timedelta(days=2), 398, msisdn, 1, key, utcnow() - timedelta(hours=1))
    services.boss.spend_points(msisdn, 10_000, key + ":pay", "payment", "golf")


async def test_the_reconciler_survives_a_redis_outage_and_resumes(tmp_path, own_redis):
    stack = Stack(tmp_path, own_redis.url, SHORTCODE_SCHEDULE_RECONCILE="every 1s", SHORTCODE_LOG_LEVEL="info")
    url = stack.env["SHORTCODE_DATABASE_URL"]
    upgrade(url)
    db = create_engine(url)
    seed_demo(db, 5)
    services = simulated(db)
    first, second = "+8613800000001", "+8613800000002"
    before = {msisdn: services.boss.account(msisdn).points for msisdn in (first, second)}

    def refunded(msisdn: str):
        def check() -> bool:
            for name in ("scheduler", "worker"):
                assert stack.procs[name].poll() is None, f"{name} died: " + stack.log(name)[-2000:]
            return services.boss.account(msisdn).points == before[msisdn]
        return check

    try:
        stack.start("scheduler", "scheduler")
        stack.start("worker", "worker")
        lapsed_paid_hold(services, first, "w1")
        await eventually(refunded(first), timeout=30, every=0.2)

        own_redis.kill()
        await asyncio.sleep(OUTAGE)  # a few slots meet a dead Redis
        own_redis.start()  # empty: whatever is queued from now on, the scheduler queued after the outage

        lapsed_paid_hold(services, second, "w2")
        await eventually(refunded(second), timeout=30, every=0.2)
        log = stack.log("scheduler")
        assert log.count('"scheduler_redis_unavailable"') == 1 and '"scheduler_recovered"' in log, log[-3000:]
    finally:
        stack.stop()
        db.dispose()
