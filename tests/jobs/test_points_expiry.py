"""Points expire at the end of the cycle, once per subscriber, however often the batch runs."""
from __future__ import annotations

from sqlalchemy import func, select

from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import BossAccount, PointsEntry
from jobs.points_expiry import expire_batch


def test_expiry_empties_every_balance_once_in_batches(tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 30)
    boss = SimulatedBoss(engine)
    last, seen = "", 0
    while True:
        expired, last = expire_batch(boss, "2026-11-30", last, batch=7)
        if not last:
            break
        seen += expired
    expire_batch(boss, "2026-11-30", "", batch=100)  # a retried run: nothing more
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(BossAccount.points))).scalar_one() == 0
        entries = conn.execute(select(func.count()).select_from(PointsEntry).where(PointsEntry.kind == "expiry"))
        assert entries.scalar_one() == seen > 0
        assert conn.execute(select(func.sum(PointsEntry.delta))).scalar_one() == 0
    engine.dispose()


def test_points_that_arrive_after_the_cycle_end_are_kept(tmp_path):
    from datetime import datetime, timezone
    url = f"sqlite:///{tmp_path}/y.db"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 3)
    boss = SimulatedBoss(engine, clock=lambda: datetime(2026, 12, 2, tzinfo=timezone.utc))
    boss.refund_points("+8613800000001", 700, "december-credit", "x")  # earned in the new cycle
    expire_batch(boss, "2026-11-30")
    assert boss.account("+8613800000001").points == 700
