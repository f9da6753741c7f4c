"""Keeping data only as long as needed: inbound message bodies blanked (the rows stay, so counts do), delivery
reports parked for ids never recorded and USSD end notifications deleted, old RQ results dropped, each after
its `[retention]` age. Work is done in small batches, each its own short transaction (SQLite has one writer:
a long DELETE would stall every webhook), and a run stops after `max_rows` per table: the next run goes on.
The ledger, bookings, the outbox and the audit log are never touched here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import column, delete, func, or_, select, table, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import TableClause

from integrations.sqltx import utc, utcnow, write
from jobs import process
from jobs.schedule import Periodic, provide

log = structlog.get_logger()
KEPT = 3  # a body this short is a menu choice ("1", "00"): nothing personal, and campaign reports count "1"s

# the runtime's tables (bot/models.py, jobs/tables.py): a job names only the columns it touches
SMS_IN = table("sms_inbox", column("id"), column("text"), column("received_at"), column("processed_at"))
TG_IN = table("telegram_inbox", column("id"), column("text"), column("contact_phone"), column("received_at"),
              column("processed_at"))
INBOUND = {"sms_inbox": (SMS_IN, ("text",)), "telegram_inbox": (TG_IN, ("text", "contact_phone"))}
PARKED = table("dlr_parked", column("id"), column("received_at"))
USSD_END = table("ussd_session_end", column("id"), column("received_at"))


@dataclass(frozen=True)
class Ages:
    """`[retention]` as plain values (RQ keeps a periodic job's arguments in Redis)."""

    inbound_body_days: int
    parked_report_days: int
    ussd_end_days: int
    rq_result_hours: int
    batch: int
    max_rows: int


def blank_bodies(engine: Engine, tbl: TableClause, columns: tuple[str, ...], before: datetime, ages: Ages) -> int:
    """Blank the bodies of processed rows received before `before`, but a menu choice's; the rows stay."""
    personal = or_(*(func.length(tbl.c[c]) > KEPT for c in columns))
    old = (tbl.c.received_at < utc(before)) & tbl.c.processed_at.is_not(None)
    blank = {c: "" for c in columns}
    return _batches(engine, tbl, old & personal, lambda ids: update(tbl).where(tbl.c.id.in_(ids)).values(blank),
                    ages)


def delete_older(engine: Engine, tbl: TableClause, before: datetime, ages: Ages) -> int:
    """Delete the rows received before `before`."""
    return _batches(engine, tbl, tbl.c.received_at < utc(before), lambda ids: delete(tbl).where(tbl.c.id.in_(ids)),
                    ages)


def _batches(engine: Engine, tbl: TableClause, where: Any, change, ages: Ages) -> int:
    """Apply `change(ids)` to matching rows, `batch` ids a transaction, walking the primary key upwards (each
    batch starts after the last one: rows already blanked are not read again), at most `max_rows` a run."""
    done, after = 0, 0
    while done < ages.max_rows:
        size = min(ages.batch, ages.max_rows - done)
        query = select(tbl.c.id).where(where, tbl.c.id > after).order_by(tbl.c.id).limit(size)
        ids = write(engine, lambda conn: _apply(conn, query, change))
        done += len(ids)
        if len(ids) < size:
            break
        after = ids[-1]
    return done


def _apply(conn, query, change) -> list[int]:
    ids = list(conn.execute(query).scalars())
    if ids:
        conn.execute(change(ids))
    return ids


def purge_database(engine: Engine, now: datetime, ages: Ages) -> dict[str, int]:
    """Every table's purge; returns how many rows each one changed."""
    day = timedelta(days=1)
    counts = {name: blank_bodies(engine, table, columns, now - ages.inbound_body_days * day, ages)
              for name, (table, columns) in INBOUND.items()}
    counts["dlr_parked"] = delete_older(engine, PARKED, now - ages.parked_report_days * day, ages)
    counts["ussd_session_end"] = delete_older(engine, USSD_END, now - ages.ussd_end_days * day, ages)
    return counts


def purge_job(**ages: int) -> dict[str, int]:
    """RQ job (`[schedule] purge`): the database's purge and this queue's old RQ results."""
    from rq import get_current_job

    from jobs.purge_rq import purge_results

    settings, now = Ages(**ages), utcnow()
    counts = purge_database(process.engine(), now, settings)
    job = get_current_job()
    if job is not None:
        counts["rq_results"] = purge_results(job.connection, job.origin, now - timedelta(hours=settings.rq_result_hours),
                                             settings.max_rows, keep=job.id)
    log.info("purged", **counts)
    return counts


@provide
def _scheduled(settings: Any) -> list[Periodic]:
    """The purge at `[schedule] purge` with the `[retention]` ages."""
    return [Periodic("purge", purge_job, settings.schedule.purge, kwargs=settings.retention.model_dump(),
                     timeout=3600)]
