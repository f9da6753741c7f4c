"""The Telegram sender is gated as the SMS sender is (opt-out, quiet hours, caps), against the simulated Bot API
over real HTTP with a fixed clock; and the rows held for the night are scheduled with RQ's enqueue_at."""
from __future__ import annotations

from datetime import datetime, timezone

import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import insert, select

from jobs import process
from jobs.outbox import O, Sender, add, send_outbox
from jobs.tables import SendCap, TelegramOutbox
from jobs.worker import ThreadWorker
from integrations.smsgateway.client import GatewayClient
from tests.conftest import free_port
from tests.jobs.test_telegram_sender import CHATS, bot_texts, engine, make_sender, send, sim  # noqa: F401

TO = TelegramOutbox.__table__
NUMBER = "+8613800000001"  # no subscriber record: the service's zone, Asia/Shanghai


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write(engine, cause: str, kind: str, at: datetime, cap_class: str = "care") -> int:
    with engine.begin() as conn:
        return conn.execute(insert(TO).values(
            chat_id=CHATS[0], msisdn=NUMBER, text=cause, cause=cause, kind=kind, cap_class=cap_class,
            status="pending", attempts=0, next_attempt_at=at, error="", created_at=at)).inserted_primary_key[0]


def states(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {r.cause: (r.status, r.error, r.attempts) for r in conn.execute(select(TO)).all()}


async def test_telegram_reminders_wait_for_the_morning_replies_do_not(sim, engine):
    night = datetime(2026, 12, 2, 13, 0, tzinfo=timezone.utc)  # 21:00:00 in Shanghai
    ids = [write(engine, "reminder", "reminder", night), write(engine, "reply", "reply", night, "")]
    clock = Clock(night)
    sender = make_sender(engine, sim, clock=clock)
    assert await send(sender, ids) == 1 and bot_texts(sim, CHATS[0]) == ["reply"]
    assert states(engine)["reminder"] == ("pending", "quiet hours", 0)
    morning = datetime(2026, 12, 3, 0, 0, tzinfo=timezone.utc)  # 08:00 in Shanghai
    assert sender.deferred == {morning: [ids[0]]}
    clock.now = morning
    assert await send(sender, ids) == 1 and bot_texts(sim, CHATS[0]) == ["reply", "reminder"]


async def test_telegram_reminders_are_capped_and_marketing_once_a_day(sim, engine):
    """care: 2 a day; marketing: 1 a day; service: exempt. What is held back is capped, with its window."""
    at = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)
    ids = [write(engine, f"care{i}", "reminder", at) for i in range(3)]
    ids += [write(engine, f"ad{i}", "marketing", at, "") for i in range(2)]
    ids += [write(engine, f"svc{i}", "reminder", at, "service") for i in range(3)]
    assert await send(make_sender(engine, sim, clock=Clock(at)), ids) == 2 + 1 + 3
    got = states(engine)
    assert got["care2"][:2] == ("capped", "capped: care d:2026-12-02")
    assert got["ad1"][:2] == ("capped", "capped: marketing d:2026-12-02")
    with engine.connect() as conn:
        assert conn.execute(select(SendCap.__table__.c.sent).where(
            SendCap.__table__.c.window == "d:2026-12-02", SendCap.__table__.c.cap_class == "care")).scalar() == 2


def test_a_row_held_for_the_night_is_scheduled_for_the_morning_with_enqueue_at(db, redis_url, monkeypatch):
    """The job that deferred it schedules a send job for 08:00 local in RQ's scheduled registry (workers run
    RQ's scheduler to move it to the queue then; the re-scan would find the row too)."""
    night = datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)
    with db.begin() as conn:
        add(conn, NUMBER, "Your bill is due", "rem:bill-due:2026-12:x", night, "reminder", "bill-due", "care")
        row_id = conn.execute(select(O.c.id).where(O.c.cause == "rem:bill-due:2026-12:x")).scalar_one()
    client = GatewayClient(f"http://127.0.0.1:{free_port()}", "shortcode", "k")  # never reached at night
    monkeypatch.setitem(process._LENT, "outbox sender", Sender(db, client, clock=Clock(night)))
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"gate-{free_port()}", connection=connection)
    job = queue.enqueue(send_outbox, [row_id])
    ThreadWorker([queue], connection=connection).work(burst=True)
    assert job.get_status(refresh=True) == "finished" and job.return_value() == 0
    registry = ScheduledJobRegistry(queue=queue)
    (scheduled,) = registry.get_job_ids()
    assert registry.get_scheduled_time(scheduled) == datetime(2026, 12, 3, 0, 0, tzinfo=timezone.utc)
    assert queue.fetch_job(scheduled).args == ([row_id],)
