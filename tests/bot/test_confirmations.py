"""A confirming USSD screen (a booking code) is also sent by SMS through the outbox, once per operation."""
from __future__ import annotations

import re

from redis.asyncio import Redis
from sqlalchemy import select

from bot.dispatcher import Inbound
from bot.outbound import Outbound, Confirmations
from bot.tools.phone import Phone
from bot.wiring import build_dispatcher
from jobs.tables import Outbox

EN = "+8613800000011"  # silver, English


def confirmations(db) -> list:
    with db.connect() as conn:
        return conn.execute(select(Outbox.__table__).where(Outbox.__table__.c.kind == "confirmation")).all()


async def book(phone: Phone, start_over: bool = False) -> str:
    await phone.dial("*126#")
    if start_over:  # the last session is offered to resume
        await phone.send("2")
    for key in ["3", "1", "1", "3", "1", "1", "1"]:  # golf, book, course, day, time, 1 player, phone bill
        await phone.send(key)
    return (await phone.send("1")).text  # confirm


async def test_a_ussd_booking_code_is_also_sent_by_sms_once(db, core, redis_url):
    redis = Redis.from_url(redis_url)
    dispatcher = build_dispatcher(core, redis, db, confirmations=Confirmations(Outbound(db), core.catalogs))
    phone = Phone(dispatcher, EN)
    screen = await book(phone)
    code = re.search(r"Code (G\w+)", screen).group(1)
    (row,) = confirmations(db)
    assert row.msisdn == EN and code in row.text and row.status == "pending" and "00 Home" not in row.text
    # the gateway sends the last hop again: the screen is repeated, the SMS is not
    again = await dispatcher.handle(Inbound("ussd", EN, phone.ref, "1", len(phone.inputs), "*126#"))
    assert again.text == screen and len(confirmations(db)) == 1
    second = await book(Phone(dispatcher, EN), start_over=True)
    assert second != screen and len(confirmations(db)) == 2
    await redis.aclose()


async def test_screens_that_confirm_nothing_send_no_sms(db, core, redis_url):
    redis = Redis.from_url(redis_url)
    dispatcher = build_dispatcher(core, redis, db, confirmations=Confirmations(Outbound(db), core.catalogs))
    phone = Phone(dispatcher, EN)
    await phone.dial("*126#")
    await phone.send("1")
    await phone.send("1")  # the bill
    assert confirmations(db) == []
    await redis.aclose()


async def test_a_failed_confirmation_write_is_made_good_by_the_retry(db, core, redis_url):
    """The outbox write fails once right after the partner booked: the subscriber sees the apology, the
    session stays on the confirm screen, and confirming again returns the same booking and one SMS."""
    redis = Redis.from_url(redis_url)
    outbound = Outbound(db)
    dispatcher = build_dispatcher(core, redis, db, confirmations=Confirmations(outbound, core.catalogs))
    real, failures = outbound.write, []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise ConnectionError("database went away")
        return real(*args, **kwargs)

    outbound.write = fail_once
    phone = Phone(dispatcher, EN)
    apology = await book(phone)
    assert "busy" in apology and confirmations(db) == []  # the apology is in the subscriber's language
    again = Phone(dispatcher, EN)
    await again.dial("*126#")
    await again.send("1")  # continue where I left off: the confirm screen
    screen = (await again.send("1")).text
    code = re.search(r"Code (G\w+)", screen).group(1)
    (row,) = confirmations(db)
    assert code in row.text
    with db.connect() as conn:
        from sqlalchemy import text
        assert conn.execute(text("SELECT count(*) FROM tee_booking WHERE msisdn = :m AND status = 'booked'"),
                            {"m": EN}).scalar() == 1
    await redis.aclose()
