"""Delivery reports move a message's status forward only: a late "Sent" never overwrites "Success",
a final status is never replaced, and a report for an id we have not recorded yet is parked."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from jobs.tables import DlrParked, Outbox
from integrations.smsgateway import DLR_ORDER, FINAL
from integrations import sqlrows
from integrations.sqltx import utcnow, write

O, P = Outbox.__table__, DlrParked.__table__


def rank(status: str | None) -> int:
    if status is None:
        return -1
    return len(DLR_ORDER) if status in FINAL else DLR_ORDER.index(status)


def moves_forward(current: str | None, new: str) -> bool:
    return current not in FINAL and rank(new) > rank(current)


def record_report(engine: Engine, message_id: str, status: str, now: datetime | None = None) -> str:
    """Apply one report; returns "applied", "ignored" (not forward) or "parked" (unknown id)."""
    def work(conn: Connection) -> str:
        current = conn.execute(select(O.c.id, O.c.dlr_status).where(O.c.gateway_message_id == message_id)).first()
        if current is None:
            conn.execute(insert(P).values(gateway_message_id=message_id, status=status, received_at=now or utcnow()))
            return "parked"
        if not moves_forward(current.dlr_status, status):
            return "ignored"
        conn.execute(update(O).where(O.c.id == current.id).values(dlr_status=status))
        return "applied"

    return write(engine, work)


def apply_parked(conn: Connection, message_id: str) -> None:
    """Once a message id is recorded, the reports that waited for it are applied, best last."""
    parked = conn.execute(select(P.c.status).where(P.c.gateway_message_id == message_id)).scalars().all()
    if parked:
        best = max(parked, key=rank)
        conn.execute(update(O).where(O.c.gateway_message_id == message_id).values(dlr_status=best))
        conn.execute(delete(P).where(P.c.gateway_message_id == message_id))


def apply_parked_many(conn: Connection, message_ids: list[str]) -> None:
    """`apply_parked` for a whole request's message ids: one query when nothing is parked (the usual case)."""
    if not message_ids:
        return
    waiting = set(conn.execute(select(P.c.gateway_message_id).where(
        sqlrows.among(conn, f"{P.name}.gateway_message_id", "ids", "text")), {"ids": sqlrows.values(conn, message_ids)})
        .scalars())
    for message_id in waiting:
        apply_parked(conn, message_id)
