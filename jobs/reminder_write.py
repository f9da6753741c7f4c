"""Writing reminders in bulk: a batch of rows per transaction into the SMS outbox or the Telegram outbox,
each unique by cause (`ON CONFLICT DO NOTHING`, SQLite and PostgreSQL alike), the reminder a reply may
continue beside it, and the run's record (`reminder_run`, also the roaming feed's cursor)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import BigInteger, DateTime, Text, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine

from integrations.sqlrows import among, values
from integrations.sqltx import utc, write
from jobs.metrics import REMINDERS_WRITTEN
from jobs.reminder_kinds import Kind
from jobs.tables import OptOut, Outbox, ReminderGoto, ReminderRun, TelegramOutbox
from jobs.telegram import LINK

O, TO, G, RUN, OPT = (Outbox.__table__, TelegramOutbox.__table__, ReminderGoto.__table__, ReminderRun.__table__,
                      OptOut.__table__)


@dataclass(frozen=True)
class Row:
    """One rendered reminder: to a Telegram chat when the subscriber chose one, else by SMS."""

    msisdn: str
    cause: str
    text: str
    chat_id: int | None
    params: dict[str, Any]


def cause(kind: Kind, occasion: str, msisdn: str) -> str:
    return f"rem:{kind.name}:{occasion}:{msisdn}"


def dialect_insert(conn: Connection, tbl):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(tbl)


def opted_out(conn: Connection, msisdns: Iterable[str]) -> set[str]:
    return set(conn.execute(select(OPT.c.msisdn).where(among(conn, "opt_out.msisdn", "numbers", "text"), OPT.c.opted_out),
                            {"numbers": values(conn, msisdns)}).scalars())


def chats_for(conn: Connection, msisdns: Iterable[str]) -> dict[str, int]:
    """`jobs.telegram.chat_for` for a batch: the chats subscribers chose for reminders, active links only."""
    rows = conn.execute(select(LINK.c.msisdn, LINK.c.chat_id).where(
        among(conn, "telegram_link.msisdn", "numbers", "text"), LINK.c.active == True, LINK.c.notify == True),  # noqa: E712
        {"numbers": values(conn, msisdns)})
    return {r.msisdn: r.chat_id for r in rows}


def written(conn: Connection, causes: list[str]) -> set[str]:
    """Causes already in either outbox: a subscriber who changed channel since gets no second copy."""
    found = set(conn.execute(select(O.c.cause).where(among(conn, "outbox.cause", "causes", "text")),
                             {"causes": values(conn, causes)}).scalars())
    return found | set(conn.execute(select(TO.c.cause).where(among(conn, "telegram_outbox.cause", "causes", "text")),
                                    {"causes": values(conn, causes)}).scalars())


def write_rows(engine: Engine, kind: Kind, rows: list[Row], now: datetime) -> tuple[list[int], list[int]]:
    """Write a batch in one transaction; returns the new SMS and Telegram row ids (what a race or a repeat
    already wrote is not written again and not returned)."""
    def work(conn: Connection) -> tuple[list[int], list[int]]:
        old = written(conn, [r.cause for r in rows])
        new = [r for r in rows if r.cause not in old]
        base = {"kind": kind.outbox_kind, "topic": kind.name, "cap_class": kind.cap_class, "status": "pending",
                "attempts": 0, "next_attempt_at": utc(now), "error": "", "created_at": utc(now)}
        sms = [{**base, "msisdn": r.msisdn, "text": r.text, "cause": r.cause} for r in new if r.chat_id is None]
        tg = [{**base, "msisdn": r.msisdn, "chat_id": r.chat_id, "text": r.text, "cause": r.cause}
              for r in new if r.chat_id is not None]
        sms_ids, done = insert_new(conn, O, sms)
        tg_ids, done_tg = insert_new(conn, TO, tg)
        if kind.goto:
            gotos(conn, kind, [r for r in new if r.cause in done | done_tg], now)
        return sms_ids, tg_ids

    sms_ids, tg_ids = write(engine, work)
    REMINDERS_WRITTEN.labels(kind.name, "sms").inc(len(sms_ids))
    REMINDERS_WRITTEN.labels(kind.name, "telegram").inc(len(tg_ids))
    return sms_ids, tg_ids


def insert_new(conn: Connection, tbl, rows: list[dict]) -> tuple[list[int], set[str]]:
    if not rows:
        return [], set()
    postgres = conn.dialect.name == "postgresql"
    stmt = _from_arrays(tbl, rows) if postgres else sqlite.insert(tbl)
    stmt = stmt.on_conflict_do_nothing(index_elements=["cause"]).returning(tbl.c.id, tbl.c.cause)
    result = (conn.execute(stmt) if postgres else conn.execute(stmt, rows)).all()
    return sorted(r.id for r in result), {r.cause for r in result}


ARRAY_OF = {str: Text(), int: BigInteger(), datetime: DateTime(timezone=True)}


def _from_arrays(tbl, rows: list[dict]):
    """PostgreSQL: the batch as one array per column, unnested by the server (INSERT ... SELECT FROM unnest).
    A multi-row VALUES has a parameter per value, and psycopg parses such a statement afresh for every batch
    (it caches only those under 50 parameters): that was 60 % of a million-reminder run (bench/reminder_run.py)."""
    names = list(rows[0])
    arrays = [bindparam(f"a_{n}", [r[n] for r in rows], type_=ARRAY(ARRAY_OF[type(rows[0][n])])) for n in names]
    source = func.unnest(*arrays).table_valued(*names).render_derived()
    return postgresql.insert(tbl).from_select(names, select(*[source.c[n] for n in names]))


def gotos(conn: Connection, kind: Kind, rows: list[Row], now: datetime) -> None:
    """The reminder a reply continues: the latest one per subscriber, in the transaction of its row."""
    if not rows:
        return
    until = utc(now + timedelta(hours=kind.goto_hours))
    stmt = dialect_insert(conn, G)
    stmt = stmt.on_conflict_do_update(index_elements=["msisdn"], set_={
        c: stmt.excluded[c] for c in ("kind", "goto", "params", "cause", "expires_at")})
    conn.execute(stmt, [{"msisdn": r.msisdn, "kind": kind.name, "goto": kind.goto, "cause": r.cause,
                         "params": json.dumps(r.params, separators=(",", ":"))[:1024], "expires_at": until}
                        for r in rows])


def start_run(engine: Engine, kind: Kind, period: str, now: datetime) -> None:
    """Record the run (once per key); a run repeated, resumed or raced finds it there."""
    def work(conn: Connection) -> None:
        conn.execute(dialect_insert(conn, RUN).on_conflict_do_nothing(index_elements=["key"]).values(
            key=f"{kind.name}:{period}"[:64], kind=kind.name, period=period[:32], started_at=utc(now),
            selected=0, queued=0, suppressed=0, deferred=0, capped=0))

    write(engine, work)


def finish_run(engine: Engine, kind: Kind, period: str, now: datetime, selected: int, queued: int,
               suppressed: int) -> None:
    """Counts of the run; `queued` adds up when two runs of one key share the work."""
    key = f"{kind.name}:{period}"[:64]
    write(engine, lambda conn: conn.execute(update(RUN).where(RUN.c.key == key).values(
        finished_at=utc(now), selected=selected, queued=RUN.c.queued + queued, suppressed=suppressed)))


def run_counts(engine: Engine, key: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(RUN).where(RUN.c.key == key)).first()
    return dict(row._mapping) if row else None


def cursor(engine: Engine, kind: Kind) -> int:
    """The roaming feed's cursor: the last event id handled, kept as the period of the row `KIND:cursor`."""
    with engine.connect() as conn:
        value = conn.execute(select(RUN.c.period).where(RUN.c.key == f"{kind.name}:cursor")).scalar()
    return int(value) if value else 0


def save_cursor(engine: Engine, kind: Kind, last: int, now: datetime) -> None:
    """Move the cursor forward only, in one conditional update (the id zero-padded, so text order is number
    order): a slower run racing a faster one never moves it back."""
    key, padded = f"{kind.name}:cursor", f"{last:020d}"

    def work(conn: Connection) -> None:
        conn.execute(dialect_insert(conn, RUN).on_conflict_do_nothing(index_elements=["key"]).values(
            key=key, kind=kind.name, period=f"{0:020d}", started_at=utc(now), selected=0, queued=0, suppressed=0,
            deferred=0, capped=0))
        conn.execute(update(RUN).where(RUN.c.key == key, RUN.c.period < padded).values(
            period=padded, finished_at=utc(now)))

    write(engine, work)
