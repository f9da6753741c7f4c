"""Erasing a subscriber: their number, name, Telegram link, message bodies and sessions go; the ledger, bills
and booking history stay under a random pseudonym (`anon-` and 11 hex digits: the `msisdn` columns hold 16),
so sums and partner reconciliation still add up. An opt-out is kept as a suppression record under an HMAC of
the number (`[erase] suppression_key`): a legal need, and no number. One audit row names the pseudonym.

Every table is walked generically (each text column of each table), so a table added later is covered; each
table is its own transaction and the subscriber row goes last with the audit row, so an erase cut short can be
run again."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from redis.asyncio import Redis
from sqlalchemy import MetaData, String, Table, delete, func, literal, or_, select, update
from sqlalchemy.engine import Connection, Engine

from bot.msisdn import mask
from bot.redisconn import tagged
from integrations.sqltx import write
from jobs.audit import Actor, record

# columns that hold what a subscriber wrote or was sent, or who they are: blanked on their rows
BODIES = {"sms_inbox": ("text",), "outbox": ("text",), "telegram_outbox": ("text", "markup", "notice"),
          "telegram_inbox": ("text", "data", "contact_phone"), "ussd_session_end": ("last_input", "error_message"),
          "hospital_appointment": ("patient", "resident_id")}
GONE = ("telegram_link", "telegram_link_event", "police_binding")  # rows that only say who the person is
KEEP = ("audit_log", "alembic_version", "opt_out", "subscriber")  # append-only, or handled on their own


class Unknown(LookupError):
    """Not a subscriber (never was, or already erased)."""


@dataclass(frozen=True)
class Erased:
    pseudonym: str
    rows: int  # rows changed outside the subscriber table


def pseudonym() -> str:
    return "anon-" + secrets.token_hex(6)[:11]


def suppression(key: str, msisdn: str) -> str:
    """The opt-out record's key: one-way without the key (a bare hash of a number is found by trying them all)."""
    return "x:" + hmac.new(key.encode(), msisdn.encode(), hashlib.sha256).hexdigest()[:14]


def erase(engine: Engine, msisdn: str, actor: Actor, now: datetime, key: str) -> Erased:
    """Erase `msisdn` from the database (Redis: `erase_sessions`); Unknown when it is not a subscriber."""
    tables = _tables(engine)
    if not _is_subscriber(engine, tables["subscriber"], msisdn):
        raise Unknown(mask(msisdn))
    anon, rows = pseudonym(), 0
    linked = _telegram_users(engine, tables, msisdn)
    for name, table in tables.items():
        if name not in KEEP:
            rows += write(engine, lambda conn: _table(conn, name, table, msisdn, anon, linked))
    write(engine, lambda conn: _last(conn, tables, msisdn, anon, actor, now, key, rows))
    return Erased(anon, rows)


def forms(msisdn: str) -> tuple[str, ...]:
    """How the number may be written in stored text: E.164, its digits, the national number."""
    national = str(phonenumbers.parse(msisdn).national_number)
    return (msisdn, msisdn.lstrip("+")) + ((national,) if len(national) >= 8 else ())


def _tables(engine: Engine) -> dict[str, Table]:
    meta = MetaData()
    meta.reflect(engine)
    return dict(meta.tables)


def _is_subscriber(engine: Engine, table: Table, msisdn: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(table.c.msisdn).where(table.c.msisdn == msisdn)).first() is not None


def _telegram_users(engine: Engine, tables: dict[str, Table], msisdn: str) -> list[int]:
    """Telegram user ids this number was ever linked to: their inbox rows are theirs."""
    events = tables["telegram_link_event"]
    with engine.connect() as conn:
        return list(conn.execute(select(events.c.user_id).where(events.c.msisdn == msisdn).distinct()).scalars())


def _table(conn: Connection, name: str, table: Table, msisdn: str, anon: str, linked: list[int]) -> int:
    """One table: rows that only identify deleted, bodies blanked, the number replaced by the pseudonym."""
    if name in GONE:
        return conn.execute(delete(table).where(table.c.msisdn == msisdn)).rowcount
    changed = _blank(conn, name, table, msisdn, linked)
    for column in (c for c in table.c if isinstance(c.type, String)):
        for form in forms(msisdn):
            changed += conn.execute(update(table).where(column.contains(form, autoescape=True))
                                    .values({column.name: func.replace(column, form, anon)})).rowcount
    return changed


def _blank(conn: Connection, name: str, table: Table, msisdn: str, linked: list[int]) -> int:
    columns = BODIES.get(name)
    if not columns:
        return 0
    mine = [table.c.msisdn == msisdn] if "msisdn" in table.c else []
    mine += [table.c.user_id.in_(linked)] if "user_id" in table.c and linked else []
    values = {c: "" for c in columns} | ({"user_id": 0, "chat_id": 0} if "user_id" in table.c else {})
    values |= {"chat_id": 0} if "chat_id" in table.c else {}
    return conn.execute(update(table).where(or_(*mine)).values(values)).rowcount if mine else 0


def _last(conn: Connection, tables: dict[str, Table], msisdn: str, anon: str, actor: Actor, now: datetime,
          key: str, rows: int) -> None:
    """An opt-out becomes a suppression record, the subscriber row goes, the audit row says so."""
    opt_out, hashed = tables["opt_out"], suppression(key, msisdn)
    conn.execute(delete(opt_out).where(or_(opt_out.c.msisdn == hashed,
                                           (opt_out.c.msisdn == msisdn) & ~opt_out.c.opted_out)))
    kept = conn.execute(update(opt_out).where(opt_out.c.msisdn == msisdn).values(msisdn=literal(hashed),
                                                                                  text="")).rowcount
    subscriber = tables["subscriber"]
    conn.execute(delete(subscriber).where(subscriber.c.msisdn == msisdn))
    record(conn, actor, "subscriber.erase", anon, now, rows=rows, suppression=bool(kept))


async def erase_sessions(redis: Redis, msisdn: str) -> int:
    """Every Redis key tagged with the number (sessions and locks on every channel, flood counters)."""
    found = [k async for k in redis.scan_iter(match=f"*{tagged(msisdn)}*", count=1000)]
    return await redis.delete(*found) if found else 0
