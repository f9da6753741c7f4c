"""`shortcode serve` runs the scheduler in-process (always in embedded mode; with a real Redis where
`[schedule] inprocess` asks), and its in-process worker runs what it queues: a lapsed paid hold is
refunded with nothing else started."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from integrations.services import simulated
from integrations.sqltx import utcnow

A = "+8613800000001"


@pytest.mark.parametrize("store", ["embedded", "redis"])
async def test_served_app_refunds_a_payment_whose_hold_lapsed(store, settings, settings_with, serve, db):
    changes = {"redis_url": "embedded"} if store == "embedded" else {"schedule_inprocess": "true"}
    s = settings_with(jobs_inprocess_worker="true", schedule_reconcile="every 1s",
                      jobs_queue=f"q{settings.redis.prefix}", **changes)
    services = simulated(db)
    services.golf.hold(1, date.today() + timedelta(days=2), 398, A, 1, "w1", utcnow() - timedelta(hours=1))
    services.boss.spend_points(A, 10_000, "w1:pay", "payment", "golf")
    await serve(s)
    for _ in range(100):
        if services.boss.account(A).points == 12_800:
            break
        await asyncio.sleep(0.1)
    assert services.boss.account(A).points == 12_800


async def test_serve_with_a_real_redis_leaves_the_periodic_jobs_to_shortcode_scheduler(settings, settings_with,
                                                                                      serve, db):
    """Two `serve` processes would each queue the same jobs; production runs one scheduler instead."""
    s = settings_with(jobs_inprocess_worker="true", schedule_reconcile="every 1s",
                      jobs_queue=f"q{settings.redis.prefix}")
    services = simulated(db)
    services.golf.hold(1, date.today() + timedelta(days=2), 398, A, 1, "w1", utcnow() - timedelta(hours=1))
    services.boss.spend_points(A, 10_000, "w1:pay", "payment", "golf")
    await serve(s)
    await asyncio.sleep(2.5)
    assert services.boss.account(A).points == 2_800
