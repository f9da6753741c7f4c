"""`shortcode serve` queues reconciliation itself, and its in-process worker runs it on a real Redis."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta


from integrations.services import simulated
from integrations.sqltx import utcnow

A = "+8613800000001"


async def test_served_app_refunds_a_payment_whose_hold_lapsed(settings, settings_with, serve, db):
    s = settings_with(jobs_inprocess_worker="true", jobs_reconcile_every=0.2, jobs_queue=f"q{settings.redis.prefix}")
    services = simulated(db)
    services.golf.hold(1, date.today() + timedelta(days=2), 398, A, 1, "w1", utcnow() - timedelta(hours=1))
    services.boss.spend_points(A, 10_000, "w1:pay", "payment", "golf")
    await serve(s)
    for _ in range(100):
        if services.boss.account(A).points == 12_800:
            break
        await asyncio.sleep(0.1)
    assert services.boss.account(A).points == 12_800
