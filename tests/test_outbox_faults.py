"""The outbox under faults, with real processes: a worker killed with SIGKILL in the middle of 1,000
messages, and a STOP that arrives in the middle of a reminder batch."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
import redis
from rq import Queue
from sqlalchemy import create_engine, func, select

from jobs import outbox
from jobs.tables import OptOut, Outbox
from tests.processes import UNGATED, Stack, bring_up, eventually, gateway_control

O = Outbox.__table__
STOPPER = "+8613800000011"


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url, SHORTCODE_JOBS_CLAIM_SECONDS="2", SHORTCODE_JOBS_RESCAN_EVERY="1",
                  SHORTCODE_SCHEDULE_OUTBOX_RESCAN="every 1s", **UNGATED)
    await bring_up(stack, 50, worker=False)
    stack.start("scheduler", "scheduler")  # queues the outbox re-scan
    stack.db = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    stack.queue = Queue(stack.env["SHORTCODE_JOBS_QUEUE"], connection=redis.Redis.from_url(redis_url))
    yield stack
    stack.stop()
    stack.db.dispose()


control = gateway_control


def fill(stack: Stack, numbers: list[str], kind: str = "reminder") -> list[int]:
    now = datetime.now(timezone.utc)
    with stack.db.begin() as conn:
        for i, number in enumerate(numbers):
            outbox.add(conn, number, f"Your bill is due, reminder {i}", f"campaign:{i}", now, kind)
    with stack.db.connect() as conn:
        return list(conn.execute(select(O.c.id).order_by(O.c.id)).scalars())


def statuses(stack: Stack) -> dict[str, int]:
    with stack.db.connect() as conn:
        return dict(conn.execute(select(O.c.status, func.count()).group_by(O.c.status)).all())


async def test_worker_killed_mid_send_each_message_is_accepted_exactly_once(stack):
    """SIGKILL the worker with part of 2,000 messages sent; after a restart the gateway's own count
    shows every message accepted once under its row id, and none missing."""
    await control(stack, "/control/faults", {"latency_ms": 300})  # 4 requests of 500: room to land a kill
    ids = fill(stack, [f"+86139{n:08d}" for n in range(2000)])
    outbox.enqueue(stack.queue, ids)
    stack.start("worker", "worker")
    await eventually(lambda: _accepted_at_least(stack, 500), timeout=60)
    await asyncio.sleep(0.15)  # the first job is done: the second is in its 300 ms request
    stack.kill("worker")
    at_kill = (await control(stack, "/control/stats"))["accepted"]
    stranded = statuses(stack).get("sending", 0)  # claimed by the dead job: only the claim lapse frees them
    assert 500 <= at_kill < 2000 and stranded > 0, "the kill must land in the middle of a job"
    stack.start("worker", "worker")
    await eventually(lambda: statuses(stack) == {"sent": 2000}, timeout=120)
    stats = await control(stack, "/control/stats")
    print(f"\nkill at {at_kill} accepted, {stranded} rows stranded; gateway submits {stats['submits']}, "
          f"accepted {stats['accepted']}")
    assert stats["accepted"] == 2000
    assert sorted(map(int, stats["per_reference"])) == ids and set(stats["per_reference"].values()) == {1}


async def _accepted_at_least(stack: Stack, n: int) -> bool:
    return (await control(stack, "/control/stats"))["accepted"] >= n


async def test_stop_in_the_middle_of_a_batch_stops_the_rest(stack):
    """A subscriber with many reminders queued texts STOP while they are being sent: nothing more
    reaches them after the opt-out is recorded, and everyone else still gets theirs."""
    await control(stack, "/control/faults", {"latency_ms": 1000})  # 6 requests of 500: time for a STOP
    numbers = [STOPPER if i % 15 == 0 else f"+86139{i:08d}" for i in range(3000)]  # ~33 of theirs a request
    ids = fill(stack, numbers)
    outbox.enqueue(stack.queue, ids)
    stack.start("worker", "worker")
    await eventually(lambda: _sent_to(stack, STOPPER, 20), timeout=60)
    await control(stack, "/control/inbound", {"from": STOPPER, "to": "12580", "text": "STOP"})
    await eventually(lambda: sum(statuses(stack).values()) == len(numbers) + 1 and set(statuses(stack)) <= {"sent", "suppressed"},
                     timeout=120)
    with stack.db.connect() as conn:
        stopped_at = conn.execute(select(OptOut.__table__.c.changed_at)).scalar_one()
    stopped = stopped_at.replace(tzinfo=timezone.utc).timestamp()
    mine = [m for m in (await control(stack, "/control/stats"))["messages"] if m["to"] == STOPPER]
    after = [m for m in mine if m["accepted_at"] > stopped and "bill is due" in m["text"]]
    # the opt-out is read right before each gateway request: only the request already under way when
    # STOP committed can land after it, and one worker has at most one under way
    assert len({m["request"] for m in after}) <= 1
    assert any("no more reminders" in m["text"] or "退订" in m["text"] for m in mine)  # the confirmation
    assert 20 <= sum("bill is due" in m["text"] for m in mine) < 200 and statuses(stack)["suppressed"] > 0
    others = sum(n != STOPPER for n in numbers)
    assert statuses(stack)["sent"] == others + 1 + sum("bill is due" in m["text"] for m in mine)


async def _sent_to(stack: Stack, number: str, n: int) -> bool:
    stats = await control(stack, "/control/stats")
    return sum(m["to"] == number for m in stats["messages"]) >= n
