"""`shortcode serve` queues reconciliation itself, and its in-process worker runs it on a real Redis."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

from aiohttp.test_utils import TestServer

from bot.services import simulated
from bot.settings import load_settings
from bot.web import make_app
from bot.wiring import build_core
from integrations.sqltx import utcnow
from tests.conftest import ROOT

A = "+8613800000001"


async def test_served_app_refunds_a_payment_whose_hold_lapsed(settings, db):
    s = load_settings(ROOT / "config.toml", environ={
        "SHORTCODE_DATABASE_URL": settings.database.url, "SHORTCODE_REDIS_URL": settings.redis.url,
        "SHORTCODE_REDIS_PREFIX": settings.redis.prefix, "SHORTCODE_JOBS_INPROCESS_WORKER": "true",
        "SHORTCODE_JOBS_RECONCILE_EVERY": "0.2", "SHORTCODE_JOBS_QUEUE": f"q{settings.redis.prefix}"})
    services = simulated(db)
    services.golf.hold(1, date.today() + timedelta(days=2), 398, A, 1, "w1", utcnow() - timedelta(hours=1))
    services.boss.spend_points(A, 10_000, "w1:pay", "payment", "golf")
    server = TestServer(make_app(build_core(s)), host="127.0.0.1")
    await server.start_server()
    try:
        for _ in range(100):
            if services.boss.account(A).points == 12_800:
                break
            await asyncio.sleep(0.1)
    finally:
        await server.close()
    assert services.boss.account(A).points == 12_800
