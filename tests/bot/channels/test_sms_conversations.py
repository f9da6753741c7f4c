"""SMS conversations over real HTTP and a real Redis: keywords, numbered replies, help, compliance words,
and one reply per inbound message however often it is processed."""
from __future__ import annotations

import asyncio
import itertools
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
from sqlalchemy import String, func, select

from bot.models import SmsInbox
from integrations.smsgateway.signing import headers
from jobs.tables import OptOut, Outbox

ZH, EN = "+8613800000001", "+8613800000011"  # gold, Chinese; silver, English
_ids = itertools.count(1)


@pytest.fixture
async def app(settings_with, serve, db):
    return await serve(settings_with(sms_secrets="s1", jobs_queue=f"q{next(_ids)}-{id(db)}"))


async def deliver(base: str, msisdn: str, text: str, message_id: str | None = None) -> str:
    """A signed inbound message; returns its gateway id."""
    message_id = message_id or f"ATIn_{next(_ids)}"
    body = urlencode({"id": message_id, "from": msisdn, "to": "12580", "text": text, "date": "2026-11-23",
                      "linkId": "l", "networkCode": "46000"}).encode()
    async with ClientSession() as http:
        async with http.post(base + "/sms/inbound", data=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", **headers("s1", body)}) as r:
            assert r.status == 200, await r.text()
    return message_id


def replies(db, message_id: str) -> list:
    with db.connect() as conn:
        inbox = conn.execute(select(SmsInbox.__table__.c.id).where(
            SmsInbox.__table__.c.message_id == message_id)).scalar_one_or_none()
        if inbox is None:
            return []
        return conn.execute(select(Outbox.__table__).where(Outbox.__table__.c.cause == f"sms-in:{inbox}")).all()


async def reply(db, message_id: str, timeout: float = 5) -> str:
    for _ in range(int(timeout / 0.02)):
        found = replies(db, message_id)
        if found:
            return found[0].text
        await asyncio.sleep(0.02)
    raise AssertionError(f"no reply to {message_id}")


async def text(base, db, msisdn: str, body: str) -> str:
    return await reply(db, await deliver(base, msisdn, body))


async def test_golf_keyword_then_numbered_replies_book_a_tee_time(app, db):
    """GOLF opens golf; numbers walk the flow to a booking code, in one SMS session."""
    assert (await text(app, db, EN, "GOLF")).startswith("Golf\n1. Book a tee time\n2. My bookings")
    assert "Choose a course" in await text(app, db, EN, "1")
    assert "Choose a date" in await text(app, db, EN, "1")
    assert "Tee times" in await text(app, db, EN, "3")
    assert "How many players?" in await text(app, db, EN, "1")
    assert "Pay by" in await text(app, db, EN, "2")
    assert "?\n1. Confirm" in await text(app, db, EN, "1")  # on the phone bill
    booked = await text(app, db, EN, "1")
    assert "Booked" in booked and "Code G" in booked


@pytest.mark.parametrize("keyword", ["golf", "ＧＯＬＦ", " G o l f ", "高尔夫", "高 尔 夫"])
async def test_keywords_ignore_case_width_and_spaces(app, db, keyword):
    assert (await text(app, db, ZH, keyword)).startswith("高尔夫")


async def test_bill_keyword_goes_straight_to_the_bill(app, db):
    assert "Your bill this month is" in await text(app, db, EN, "bill")


async def test_unknown_text_gets_the_main_menu_with_a_help_line(app, db):
    answer = await text(app, db, EN, "hello there")
    assert answer.startswith("Reply with a number, or text GOLF, DOC, FINE, PTS or BILL.\nShortcode services")
    assert (await text(app, db, EN, "2")).startswith("Points:")


async def test_a_wrong_number_in_a_live_session_reprompts(app, db):
    await text(app, db, EN, "PTS")
    assert (await text(app, db, EN, "9")).startswith("Invalid choice, try again.")


async def test_a_number_after_the_session_window_gets_the_menu_with_help(settings_with, serve, db):
    base = await serve(settings_with(sms_secrets="s1", sms_session_window=1, jobs_queue="q-window"))
    await text(base, db, EN, "PTS")
    await asyncio.sleep(1.2)
    assert (await text(base, db, EN, "1")).startswith("Reply with a number")


@pytest.mark.parametrize("word", ["STOP", "stop", "ＳＴＯＰ", "S T O P", "Unsubscribe", "cancel", "quit", "TD",
                                  "退订", "退 订", "Stop!"])
async def test_stop_words_opt_out_with_one_confirmation(app, db, word):
    message_id = await deliver(app, ZH, word)
    assert "您已退订" in await reply(db, message_id)
    (row,) = replies(db, message_id)
    assert row.kind == "confirmation"
    with db.connect() as conn:
        opt = conn.execute(select(OptOut.__table__).where(OptOut.__table__.c.msisdn == ZH)).one()
    assert opt.opted_out and opt.channel == "sms" and opt.text == word


async def test_start_opts_back_in_and_help_answers(app, db):
    await text(app, db, EN, "STOP")
    assert "again. Text STOP" in await text(app, db, EN, "订阅")
    with db.connect() as conn:
        assert conn.execute(select(OptOut.__table__.c.opted_out)).scalar_one() is False
    assert "text GOLF, DOC, FINE, PTS or BILL" in await text(app, db, EN, "help")


async def test_stop_is_answered_before_any_flow(app, db):
    """Mid-flow, STOP is a compliance word, not an input to the screen."""
    await text(app, db, EN, "FINE")
    assert "no more reminders" in await text(app, db, EN, "stop")


async def test_same_message_delivered_ten_times_at_once_gets_one_reply(app, db):
    message_id = "ATIn_dup"
    await asyncio.gather(*[deliver(app, EN, "PTS", message_id) for _ in range(10)])
    await reply(db, message_id)
    await asyncio.sleep(0.3)
    assert len(replies(db, message_id)) == 1
    with db.connect() as conn:
        assert conn.execute(select(Outbox.__table__.c.id)).all().__len__() == 1


async def test_processing_a_message_again_changes_nothing(settings_with, db, core, redis_url):
    """A message processed again (a retry after a crash between the session save and the reply) repeats
    the screen; the input is not applied twice and there is still one reply."""
    from redis.asyncio import Redis

    from bot.outbound import Outbound
    from bot.wiring import build_dispatcher, sms_conversation

    redis = Redis.from_url(redis_url)
    sms = build_dispatcher(core, redis, db, channel="sms")
    outbound = Outbound(db)
    conversations = sms_conversation(core, sms, db, outbound, redis)
    with db.begin() as conn:
        from datetime import datetime, timezone
        now = datetime.now(timezone.utc)
        for n, body in enumerate(["PTS", "1"], 1):
            conn.execute(SmsInbox.__table__.insert().values(id=n, gateway="t", message_id=f"m{n}", msisdn=EN,
                                                            short_code="12580", text=body, received_at=now))
    assert await conversations.process(1)
    settling = conversations.inbox.commit  # the group commit that marks a message and writes its reply
    real_write, calls = settling.work, []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("died before the reply was written")
        return real_write(*args, **kwargs)

    settling.work = crash_once
    with pytest.raises(ConnectionError):
        await conversations.process(2)
    assert await conversations.process(2) and await conversations.process(2)
    with db.connect() as conn:
        texts = conn.execute(select(Outbox.__table__.c.text).order_by(Outbox.__table__.c.id)).scalars().all()
    assert len(texts) == 2 and texts[1].startswith("You have")  # "1" applied once: the balance screen
    session = await sms.store.peek(sms.channel.session_key(EN))
    assert (session.flow, session.state, session.hops) == ("points", "balance", 2)
    await redis.aclose()


async def test_a_stored_message_never_answered_is_answered_by_the_rescan(settings_with, serve, db):
    """The process died between the 200 and the reply: the periodic re-scan answers the message."""
    from datetime import datetime, timedelta, timezone

    with db.begin() as conn:
        conn.execute(SmsInbox.__table__.insert().values(
            gateway="africastalking", message_id="orphan", msisdn=EN, short_code="12580", text="BILL",
            received_at=datetime.now(timezone.utc) - timedelta(seconds=5)))
    await serve(settings_with(sms_secrets="s1", jobs_rescan_every="0.2", jobs_queue="q-rescan"))
    assert "Your bill this month is" in await reply(db, "orphan")


async def test_a_subscribers_messages_apply_in_the_order_received(app, db):
    """Twenty subscribers each text BILL and PTS at once: each message gets its own answer, none repeated."""
    numbers = [f"+86138{n:08d}" for n in range(2, 22)]

    async def both(number):
        return await asyncio.gather(deliver(app, number, "BILL"), deliver(app, number, "PTS"))

    pairs = await asyncio.gather(*[both(n) for n in numbers])
    for bill, pts in pairs:
        assert "Your bill" in await reply(db, bill) or "本月账单" in await reply(db, bill)
        assert (await reply(db, pts)).startswith(("Points:", "积分"))


async def test_a_message_that_failed_holds_back_the_later_ones(db, core, redis_url):
    """BILL fails (the lock was busy), PTS arrives: PTS waits, and the retry answers BILL, then PTS."""
    from datetime import datetime, timezone

    from redis.asyncio import Redis

    from bot.outbound import Outbound
    from bot.store import Busy
    from bot.wiring import build_dispatcher, sms_conversation

    redis = Redis.from_url(redis_url)
    sms = build_dispatcher(core, redis, db, channel="sms")
    conversations = sms_conversation(core, sms, db, Outbound(db), redis)
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        for n, body in enumerate(["BILL", "PTS"], 1):
            conn.execute(SmsInbox.__table__.insert().values(id=n, gateway="t", message_id=f"o{n}", msisdn=EN,
                                                            short_code="12580", text=body, received_at=now))
    real, calls = sms.reply, []

    async def busy_twice(inbound):
        calls.append(inbound.hop)
        if len(calls) <= 2:
            raise Busy(EN)
        return await real(inbound)

    sms.reply = busy_twice
    assert not await conversations.process(1)
    assert not await conversations.process(2) and replies(db, "o2") == []  # PTS waits for BILL
    assert await conversations.process(2)
    assert calls == [1, 1, 1, 2]
    assert "Your bill" in replies(db, "o1")[0].text and replies(db, "o2")[0].text.startswith("Points:")
    await redis.aclose()


async def test_a_flood_gets_one_notice_a_minute_and_never_reaches_a_flow(settings_with, serve, db):
    """Over [sms] max_per_minute: one "too fast" notice, then silence for the minute; STOP still works,
    and another subscriber is answered as usual."""
    base = await serve(settings_with(sms_secrets="s1", sms_max_per_minute=3, jobs_queue="q-flood"))
    flood = [await deliver(base, EN, "PTS") for _ in range(8)]
    answers = [await reply(db, m) for m in flood[:4]]
    assert all(a.startswith("Points:") for a in answers[:3])
    assert answers[3] == "You are sending messages too fast. Please wait a minute and try again."
    for m in flood[4:]:  # processed, unanswered
        await eventually_processed(db, m)
        assert replies(db, m) == []
    assert "no more reminders" in await text(base, db, EN, "STOP")
    assert "积分" in await text(base, db, ZH, "PTS")


async def eventually_processed(db, message_id: str) -> None:
    for _ in range(250):
        with db.connect() as conn:
            done = conn.execute(select(SmsInbox.__table__.c.processed_at).where(
                SmsInbox.__table__.c.message_id == message_id)).scalar_one_or_none()
        if done is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{message_id} was never processed")


async def test_a_burst_from_one_subscriber_is_answered_in_one_pass(db, core, redis_url):
    """60 texts of one subscriber processed at once: each message is looked at once, in order (20 answers,
    one notice, the rest silent), instead of every task walking every earlier message again."""
    from datetime import datetime, timezone

    from redis.asyncio import Redis

    from bot.outbound import Outbound
    from bot.wiring import build_dispatcher, sms_conversation

    redis = Redis.from_url(redis_url)
    sms = build_dispatcher(core, redis, db, channel="sms")
    conversations = sms_conversation(core, sms, db, Outbound(db), redis)
    assert conversations.max_per_minute == 20
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        conn.execute(SmsInbox.__table__.insert(), [dict(id=n, gateway="t", message_id=f"b{n}", msisdn=EN,
                                                        short_code="12580", text="PTS", received_at=now)
                                                   for n in range(1, 61)])
    real, looked_at = conversations._answer, []

    async def counting(row):
        looked_at.append(row.id)
        return await real(row)

    conversations._answer = counting
    assert all(await asyncio.gather(*[conversations.process(n) for n in range(1, 61)]))
    assert looked_at == list(range(1, 61))
    answered = [replies(db, f"b{n}") for n in range(1, 61)]
    assert [len(a) for a in answered] == [1] * 21 + [0] * 39
    assert answered[20][0].text.startswith("You are sending messages too fast")
    await redis.aclose()


def _regular(db) -> str:
    """A regular-tier subscriber, who may not book golf, reading English."""
    from bot.models import Subscriber
    S = Subscriber.__table__
    with db.begin() as conn:
        msisdn = conn.execute(select(S.c.msisdn).where(S.c.tier == "regular").order_by(S.c.msisdn)).scalars().first()
        conn.execute(S.update().where(S.c.msisdn == msisdn).values(language="en"))
    return msisdn


async def test_help_lines_offer_golf_only_to_subscribers_who_may_book_it(app, db):
    """HELP and the help line on unknown text name GOLF for silver and above, never for a regular subscriber."""
    regular = _regular(db)
    assert "text GOLF, DOC" in await text(app, db, EN, "help")
    assert (await text(app, db, EN, "hello there")).startswith("Reply with a number, or text GOLF, DOC")
    assert "text DOC, FINE, PTS or BILL, then" in await text(app, db, regular, "help")
    unknown = await text(app, db, regular, "hello there")
    assert unknown.startswith("Reply with a number, or text DOC, FINE, PTS or BILL.\nShortcode services")
    assert "GOLF" not in unknown and "Golf" not in unknown  # nor in the menu below it


async def test_an_sms_turn_is_abandoned_at_its_deadline_and_tried_again_later(settings_with, db, redis_url):
    """A turn stuck past [sms] turn_timeout (here: waiting on a lock another turn holds) is given up,
    leaving the message unanswered for the re-scan, rather than holding on past its own lock."""
    from datetime import datetime, timezone

    from redis.asyncio import Redis

    from bot.outbound import Outbound
    from bot.store import SessionStore
    from bot.wiring import build_core, build_dispatcher, sms_conversation

    s = settings_with(sms_turn_timeout=0.5, session_lock_wait_ms=60000)
    core = build_core(s)
    redis = Redis.from_url(redis_url)
    sms = build_dispatcher(core, redis, db, channel="sms")
    conversations = sms_conversation(core, sms, db, Outbound(db), redis)
    assert conversations.turn_timeout == 0.5
    other = await SessionStore(redis, s.redis.prefix, lock_ttl_ms=60000).acquire(f"sms:{{{EN}}}")
    with db.begin() as conn:
        conn.execute(SmsInbox.__table__.insert().values(id=1, gateway="t", message_id="m1", msisdn=EN,
                                                        short_code="12580", text="PTS",
                                                        received_at=datetime.now(timezone.utc)))
    try:
        answered = await asyncio.wait_for(conversations.process(1), 20)  # a hang guard, not a speed check
    finally:
        await SessionStore(redis, s.redis.prefix).release(other)
        await redis.aclose()
    assert answered is False and replies(db, "m1") == []


async def test_texts_arriving_together_are_answered_in_the_order_they_were_stored(app, db):
    """Six texts of one subscriber posted at once among twenty others' (so they share group commits): each
    is answered once, and their replies are written in inbox order, whatever order the requests ran in."""
    others = [f"+86138000000{n:02d}" for n in range(21, 41)]
    ids = await asyncio.gather(*[deliver(app, EN, body) for body in ["PTS", "1", "0", "1", "0", "1"]],
                               *[deliver(app, n, "BILL") for n in others])
    for message_id in ids:
        await reply(db, message_id)
    I, O = SmsInbox.__table__, Outbox.__table__
    with db.connect() as conn:
        mine = conn.execute(select(I.c.id, O.c.id).join(O, O.c.cause == "sms-in:" + I.c.id.cast(String))
                            .where(I.c.msisdn == EN).order_by(I.c.id)).all()
    assert len(mine) == 6 and [o for _, o in mine] == sorted(o for _, o in mine)


async def test_a_new_text_never_overtakes_an_earlier_one_left_unanswered(app, db):
    """A text acknowledged by a process that died before answering is still waiting when the next one
    arrives: the next one's task answers it first, so "1" applies to the menu PTS opened."""
    from datetime import datetime, timezone

    I, O = SmsInbox.__table__, Outbox.__table__
    with db.begin() as conn:
        earlier = conn.execute(I.insert().values(gateway="africastalking", message_id="ATIn_died", msisdn=EN,
                                                 short_code="12580", text="PTS", received_at=datetime.now(timezone.utc))
                               .returning(I.c.id)).scalar_one()
    answer = await text(app, db, EN, "1")
    with db.connect() as conn:
        first = conn.execute(select(O.c.id).where(O.c.cause == f"sms-in:{earlier}")).scalar_one()
        second = conn.execute(select(func.max(O.c.id))).scalar_one()
    assert first < second and answer.startswith("You have ")  # "1" of the points menu: the balance
