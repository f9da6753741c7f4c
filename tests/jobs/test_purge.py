"""The retention purge on SQLite and PostgreSQL: old bodies blanked (the rows and menu choices stay), old
parked delivery reports and USSD end notifications deleted, new rows untouched, the ledger untouched, a run
bounded; and old RQ results dropped from a real Redis while recent ones stay."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis
from rq import Queue
from sqlalchemy import func, select

from bot.db import make_engine, upgrade
from bot.models import SmsInbox, TelegramInbox, UssdSessionEnd
from bot.tools.seed import seed_demo
from integrations.boss.tables import BillCharge, PointsEntry
from jobs.purge import Ages, purge_database
from jobs.purge_rq import purge_results
from jobs.schedule import periodic
from jobs.tables import DlrParked
from jobs.worker import ThreadWorker

NOW = datetime(2026, 12, 2, 9, tzinfo=timezone.utc)
OLD, NEW = NOW - timedelta(days=40), NOW - timedelta(days=1)
AGES = Ages(inbound_body_days=30, parked_report_days=7, ussd_end_days=30, rq_result_hours=72, batch=2, max_rows=100)


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, 5)
    yield engine
    engine.dispose()


def fill(engine) -> None:
    """Old and new rows of each kind; an old unprocessed SMS and an old menu choice too."""
    sms = [("old body, my name is Li", OLD, NOW), ("1", OLD, NOW), ("old, never processed", OLD, None),
           ("new body", NEW, NEW), *[(f"old body {n}", OLD, NOW) for n in range(4)]]
    with engine.begin() as conn:
        conn.execute(SmsInbox.__table__.insert(), [
            dict(gateway="t", message_id=f"m{n}", msisdn="+8613800000001", short_code="12580", text=text,
                 received_at=at, processed_at=done) for n, (text, at, done) in enumerate(sms)])
        conn.execute(TelegramInbox.__table__.insert(), [
            dict(bot="1", update_id=n, user_id=7, chat_id=7, kind="contact", text="a contact",
                 contact_phone="+8613800000001", received_at=at, processed_at=at) for n, at in enumerate((OLD, NEW))])
        conn.execute(DlrParked.__table__.insert(), [
            dict(gateway_message_id=f"g{n}", status="Success", received_at=at)
            for n, at in enumerate((NOW - timedelta(days=8), NOW - timedelta(days=6)))])
        conn.execute(UssdSessionEnd.__table__.insert(), [
            dict(session_id=f"s{n}", msisdn="+8613800000001", service_code="*126#", status="Success", received_at=at)
            for n, at in enumerate((OLD, NEW))])


def ledger(engine) -> tuple:
    with engine.connect() as conn:
        return (conn.execute(select(func.count(), func.sum(PointsEntry.delta))).one(),
                conn.execute(select(func.count(), func.sum(BillCharge.amount_fen))).one())


def texts(engine, table) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(table.text).order_by(table.id)).scalars())


def test_purge_blanks_old_bodies_deletes_old_reports_and_keeps_the_new_and_the_ledger(engine):
    """Old processed bodies blanked (a menu choice kept), old parked reports and end notices gone; the rest,
    and the ledger, exactly as they were."""
    fill(engine)
    before = ledger(engine)
    counts = purge_database(engine, NOW, AGES)
    assert counts == {"sms_inbox": 5, "telegram_inbox": 1, "dlr_parked": 1, "ussd_session_end": 1}
    assert texts(engine, SmsInbox) == ["", "1", "old, never processed", "new body", "", "", "", ""]
    with engine.connect() as conn:
        assert conn.execute(select(TelegramInbox.text, TelegramInbox.contact_phone).order_by(TelegramInbox.id)
                            ).all() == [("", ""), ("a contact", "+8613800000001")]
        assert conn.execute(select(DlrParked.gateway_message_id)).scalars().all() == ["g1"]
        assert conn.execute(select(UssdSessionEnd.session_id)).scalars().all() == ["s1"]
    assert ledger(engine) == before and before[0][0] > 0
    assert purge_database(engine, NOW, AGES) == dict.fromkeys(counts, 0)  # nothing left to do


def test_a_run_is_bounded_and_the_next_one_goes_on(engine):
    """max_rows caps a run: 3 of the 5 old bodies, then the 2 others."""
    fill(engine)
    bounded = Ages(**{**AGES.__dict__, "max_rows": 3})
    assert purge_database(engine, NOW, bounded)["sms_inbox"] == 3
    assert purge_database(engine, NOW, bounded)["sms_inbox"] == 2
    assert texts(engine, SmsInbox).count("") == 5


def test_the_purge_is_on_the_schedule_with_the_configured_ages(settings):
    """`[schedule] purge` queues it with `[retention]` as its arguments."""
    [entry] = [e for e in periodic(settings) if e.name == "purge"]
    assert entry.when == settings.schedule.purge and entry.kwargs["rq_result_hours"] == 72
    assert Ages(**entry.kwargs) == Ages(**settings.retention.model_dump())


def ok() -> str:
    return "done"


def boom() -> None:
    raise RuntimeError("a job that fails")


def test_old_rq_results_go_and_recent_ones_stay(redis_url):
    """Finished and failed jobs ended before the cutoff are deleted with their hashes; a cutoff before they
    ended deletes nothing."""
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"purge-{uuid.uuid4().hex[:8]}", connection=connection)
    jobs = [queue.enqueue(ok), queue.enqueue(ok), queue.enqueue(boom)]
    ThreadWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
    assert len(queue.finished_job_registry) == 2 and len(queue.failed_job_registry) == 1
    now = datetime.now(timezone.utc)
    assert purge_results(connection, queue.name, now - timedelta(hours=1), 100) == 0
    assert purge_results(connection, queue.name, now + timedelta(seconds=1), 2) == 2  # bounded
    assert purge_results(connection, queue.name, now + timedelta(seconds=1), 100) == 1
    assert len(queue.finished_job_registry) == 0 and len(queue.failed_job_registry) == 0
    assert not any(connection.exists(job.key) for job in jobs)
    connection.close()
