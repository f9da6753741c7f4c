"""The SMS reply path's batched storage on SQLite and PostgreSQL: inbound messages stored in group commits
(redeliveries recognised within a batch and across batches), replies settled in group commits (each
message answered once), and the "1" lookups of a burst read together, whichever way the reminder went."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from bot.channels.conversation import InboxRow
from bot.channels.reminder_replies import ReminderReplies
from bot.channels.sms_inbox import Received, SmsInboxWriter
from bot.channels.sms_mailbox import SmsMailbox
from bot.db import make_engine, upgrade
from bot.dispatcher import Reply
from bot.models import SmsInbox
from bot.outbound import Outbound
from jobs.tables import Outbox, ReminderGoto, TelegramOutbox

I, O, G, TO = SmsInbox.__table__, Outbox.__table__, ReminderGoto.__table__, TelegramOutbox.__table__
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    yield engine
    engine.dispose()


def received(message_id: str, msisdn: str = "+8613800000001", text: str = "PTS") -> Received:
    return Received("africastalking", message_id, msisdn, "12580", text, NOW)


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def test_a_burst_is_stored_once_per_message_id_and_knows_each_subscribers_oldest_message(engine):
    """Redeliveries in the same batch and of an earlier batch are recognised; a subscriber's second text
    of the burst is not their oldest unanswered one (it must wait for the first)."""
    writer = SmsInboxWriter(engine, "africastalking")
    first = await writer.store(received("m0", "+8613800000009"))
    burst = [received("m1"), received("m1"), received("m0", "+8613800000009"), received("m2"),
             received("m3", "+8613800000002")]
    m1, again, old, m2, m3 = await asyncio.gather(*[writer.store(r) for r in burst])
    assert again is None and old is None and count(engine, I) == 4
    assert first.first and m1.first and m3.first and not m2.first
    assert m1.row.id < m2.row.id and (m2.row.msisdn, m2.row.text, m2.row.ref) == ("+8613800000001", "PTS", "m2")


async def test_a_message_after_an_unanswered_one_is_not_the_oldest(engine):
    writer = SmsInboxWriter(engine, "africastalking")
    await writer.store(received("a"))
    later = await writer.store(received("b"))
    assert not later.first


def row(inbox_id: int, msisdn: str = "+8613800000001") -> InboxRow:
    return InboxRow(inbox_id, msisdn, "PTS", NOW, to=msisdn, ref=f"m{inbox_id}")


async def test_concurrent_replies_are_settled_together_and_each_message_is_answered_once(engine):
    writer, mailbox = SmsInboxWriter(engine, "africastalking"), SmsMailbox(engine, Outbound(engine), lambda: NOW)
    stored = await asyncio.gather(*[writer.store(received(f"m{n}", f"+86138000000{n:02d}")) for n in range(12)])
    rows = [s.row for s in stored]
    out = await asyncio.gather(*[mailbox.settle(r, Reply(f"to {r.ref}", False), "reply") for r in rows],
                               mailbox.settle(rows[0], Reply("twice", False), "reply"))
    assert out[-1] is None and None not in out[:-1]  # the same message settled twice: one reply
    with engine.connect() as conn:
        replies = dict(conn.execute(select(O.c.id, O.c.text)).all())
    assert replies == {o: f"to {r.ref}" for o, r in zip(out, rows)}
    assert count(engine, I, I.c.processed_at.is_(None)) == 0
    assert await mailbox.settle(rows[3], Reply("again", False), "reply") is None  # a re-scan changes nothing


async def test_a_reply_whose_change_fails_leaves_its_message_unanswered_and_the_others_settled(engine):
    writer, mailbox = SmsInboxWriter(engine, "africastalking"), SmsMailbox(engine, Outbound(engine), lambda: NOW)
    stored = await asyncio.gather(*[writer.store(received(f"m{n}", f"+86138000000{n:02d}")) for n in range(3)])

    def broken(conn):
        raise RuntimeError("the opt-out write failed")

    results = await asyncio.gather(*[mailbox.settle(s.row, Reply("hi", False), "reply", broken if n == 1 else None)
                                     for n, s in enumerate(stored)], return_exceptions=True)
    assert isinstance(results[1], RuntimeError) and isinstance(results[0], int) and isinstance(results[2], int)
    with engine.connect() as conn:
        unanswered = conn.execute(select(I.c.id).where(I.c.processed_at.is_(None))).scalars().all()
    assert unanswered == [stored[1].row.id] and count(engine, O) == 2  # tried again by the re-scan


def plant(engine, msisdn: str, cause: str, sms: str | None = None, chat: str | None = None,
          copy: str | None = None, expires: timedelta = timedelta(hours=48)) -> None:
    """A reminder's goto and the messages that carried it: by SMS, to a chat, the chat's SMS copy."""
    with engine.begin() as conn:
        conn.execute(insert(G).values(msisdn=msisdn, kind="low-balance", goto="points.topup",
                                      params='{"reward": "topup50"}', cause=cause, expires_at=NOW + expires))
        message = dict(msisdn=msisdn, text="Reply 1", kind="reminder", next_attempt_at=NOW)
        if sms:
            conn.execute(insert(O).values(cause=cause, status=sms, created_at=NOW - timedelta(minutes=3), **message))
        if chat:
            chat_id = conn.execute(insert(TO).values(chat_id=7, cause=cause, status=chat, created_at=NOW - timedelta(
                minutes=2), **message).returning(TO.c.id)).scalar_one()
            if copy:
                conn.execute(insert(O).values(cause=f"tg-fallback:{chat_id}", status=copy,
                                              created_at=NOW - timedelta(minutes=1), **message))


async def test_the_ones_of_a_burst_find_their_reminders_whichever_way_they_went(engine):
    cases = {"+8613800000001": dict(sms="sent"), "+8613800000002": dict(sms="suppressed"),
             "+8613800000003": dict(chat="failed", copy="delivered"), "+8613800000004": dict(chat="failed"),
             "+8613800000005": dict(chat="sent"), "+8613800000006": dict(sms="sent", expires=timedelta(0))}
    for n, (msisdn, how) in enumerate(cases.items()):
        plant(engine, msisdn, f"rem:{n}", **how)
    replies = ReminderReplies(engine, None, None, None)
    asks = [(m, NOW) for m in [*cases, "+8613800000099"]]
    with engine.connect() as conn:
        found = dict(zip([m for m, _ in asks], replies.pending(conn, asks)))
    assert {m for m, g in found.items() if g} == {"+8613800000001", "+8613800000003", "+8613800000005"}
    assert found["+8613800000003"].written_at == NOW - timedelta(minutes=1)  # the SMS copy is what they got
    assert found["+8613800000001"].values == (("reward", "topup50"),) and found["+8613800000001"].goto == "points.topup"
