"""`shortcode subscriber erase` on SQLite and PostgreSQL and a real Redis: after it the number is in no text
column of any table and no Redis key or value, the ledger's sums are unchanged, bookings remain under the
pseudonym, an opt-out stays as a suppression record, the erase is audited, and a repeat (or an unknown number,
or no confirmation) is refused with one line and exit 2."""
from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import redis
import redis.asyncio as aredis
from sqlalchemy import MetaData, String, func, select

from bot.db import make_engine, upgrade
from bot.dispatcher import Inbound
from bot.erasure import forms, suppression
from bot.models import SmsInbox, Subscriber, TelegramInbox, TelegramLink, TelegramLinkEvent
from bot.rates import MinuteCounter
from bot.tools.seed import seed_demo
from bot.wiring import build_core, build_dispatcher
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import BillCharge, PointsEntry
from integrations.golf.simulated import SimulatedTeeSheets
from integrations.golf.tables import TeeBooking
from jobs import outbox
from jobs.audit import AuditLog
from jobs.tables import OptOut
from tests.processes import ROOT

ME, OTHER = "+8613800000001", "+8613800000005"
NOW = datetime.now(timezone.utc)


def shortcode(settings, *args: str, key: str = "k") -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "SHORTCODE_DATABASE_URL": settings.database_url,
           "SHORTCODE_REDIS_URL": settings.redis.url, "SHORTCODE_REDIS_PREFIX": settings.redis.prefix,
           "SHORTCODE_ERASE_SUPPRESSION_KEY": key}
    return subprocess.run([sys.executable, "-m", "bot.tools.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


async def live(settings, engine) -> None:
    """What a subscriber leaves: a USSD session, a flood counter, transfers both ways, a bill, a tee booking,
    texts each way, an opt-out and a Telegram link with its history."""
    client = aredis.Redis.from_url(settings.redis.url)
    d = build_dispatcher(build_core(settings), client, engine)
    for n, text in enumerate([None, "2"]):
        await d.handle(Inbound("ussd", ME, "s", text, n, "*126#"))
    await MinuteCounter(client, f"{settings.redis.prefix}rate:").place(ME, 1, NOW)
    await client.aclose()
    boss = SimulatedBoss(engine)
    boss.transfer_points(ME, OTHER, 100, f"t1:{ME}", 10_000, NOW - timedelta(days=1))
    boss.transfer_points(OTHER, ME, 40, "t2", 10_000, NOW - timedelta(days=1))
    boss.charge_bill(ME, 1500, f"bill:{ME}", f"golf for {ME}")
    golf = SimulatedTeeSheets(engine)
    course, day = golf.courses()[0].id, date.today() + timedelta(days=3)
    golf.hold(course, day, golf.free_slots(course, day, NOW)[0], ME, 2, f"golf:{ME}", NOW + timedelta(minutes=5))
    golf.confirm(f"golf:{ME}", 1500, 0, "bill", NOW)
    with engine.begin() as conn:
        conn.execute(SmsInbox.__table__.insert().values(gateway="t", message_id="m1", msisdn=ME, short_code="12580",
                                                        text="I am Li Wei", received_at=NOW, processed_at=NOW))
        outbox.add(conn, ME, "Your code G123", "sms-in:1", NOW)
        conn.execute(OptOut.__table__.insert().values(msisdn=ME, opted_out=True, channel="sms", text="STOP",
                                                      changed_at=NOW))
        conn.execute(TelegramLink.__table__.insert().values(user_id=77, msisdn=ME, chat_id=77, linked_at=NOW,
                                                            update_id=1))
        conn.execute(TelegramLinkEvent.__table__.insert().values(user_id=77, msisdn=ME, event="linked", at=NOW))
        conn.execute(TelegramInbox.__table__.insert().values(bot="1", update_id=1, user_id=77, chat_id=77,
                                                             kind="contact", contact_phone=ME.lstrip("+"),
                                                             received_at=NOW, processed_at=NOW))


def sums(engine) -> tuple:
    with engine.connect() as conn:
        return (conn.execute(select(func.count(), func.sum(PointsEntry.delta))).one(),
                conn.execute(select(func.count(), func.sum(BillCharge.amount_fen))).one(),
                conn.execute(select(func.count()).select_from(TeeBooking)).scalar_one())


def mine(engine, who: str) -> tuple:
    with engine.connect() as conn:
        return (conn.execute(select(func.sum(PointsEntry.delta)).where(PointsEntry.msisdn == who)).scalar(),
                conn.execute(select(func.count()).select_from(TeeBooking).where(TeeBooking.msisdn == who)).scalar())


def found_in_database(engine, msisdn: str) -> list[str]:
    """Every text column of every table, searched for every way the number is written."""
    meta = MetaData()
    meta.reflect(engine)
    hits = []
    with engine.connect() as conn:
        for table in meta.tables.values():
            for column in (c for c in table.c if isinstance(c.type, String)):
                for form in forms(msisdn):
                    if conn.execute(select(func.count()).where(column.contains(form))).scalar():
                        hits.append(f"{table.name}.{column.name}")
    return hits


def found_in_redis(url: str, prefix: str, msisdn: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    digits = msisdn.lstrip("+").encode()
    hits = [k for k in client.scan_iter(match=f"{prefix}*") if digits in k or digits in (client.dump(k) or b"")]
    client.close()
    return hits


async def test_erase_leaves_no_number_keeps_the_ledger_and_bookings_and_refuses_a_repeat(settings_with, sql_url):
    """The whole promise, on both databases."""
    settings = settings_with(database_url=sql_url)
    upgrade(sql_url)
    engine = make_engine(sql_url)
    seed_demo(engine, 10)
    await live(settings, engine)
    before, (points, bookings) = sums(engine), mine(engine, ME)
    assert found_in_database(engine, ME) and found_in_redis(settings.redis.url, settings.redis.prefix, ME)
    refused = shortcode(settings, "subscriber", "erase", ME)  # no terminal, no --yes
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and ME not in refused.stderr

    done = shortcode(settings, "subscriber", "erase", ME, "--yes")
    assert done.returncode == 0, done.stderr
    anon = done.stdout.split(" kept as ")[1].split(";")[0]
    assert anon.startswith("anon-") and ME not in done.stdout
    assert found_in_database(engine, ME) == []
    assert found_in_redis(settings.redis.url, settings.redis.prefix, ME) == []
    assert sums(engine) == before and mine(engine, anon) == (points, bookings) and bookings == 1
    with engine.connect() as conn:
        assert conn.execute(select(OptOut.opted_out).where(OptOut.msisdn == suppression("k", ME))).scalar()
        assert conn.execute(select(AuditLog.action).where(AuditLog.target == anon)).scalar() == "subscriber.erase"
    again = shortcode(settings, "subscriber", "erase", ME, "--yes")
    assert again.returncode == 2 and again.stderr.strip().endswith("(never was, or already erased)")
    assert again.stderr.count("\n") == 1 and sums(engine) == before
    unknown = shortcode(settings, "subscriber", "erase", "+8613912345678", "--yes")
    assert unknown.returncode == 2 and "not a subscriber" in unknown.stderr
    engine.dispose()


def test_erase_refuses_without_a_suppression_key_and_changes_nothing(settings, db):
    """An opt-out kept under an HMAC with an empty key could be traced back: no erase until the key is set."""
    seed_demo(db, 3)
    done = shortcode(settings, "subscriber", "erase", ME, "--yes", key="")
    assert done.returncode == 2 and "suppression_key" in done.stderr and "Traceback" not in done.stderr, done
    with db.connect() as conn:
        assert conn.execute(select(Subscriber.__table__.c.msisdn).where(Subscriber.__table__.c.msisdn == ME)).first()
