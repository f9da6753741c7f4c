"""Replies close the loop: a reminder written by a real run names a flow state, and a "1" texted back over the
real webhook (SMS or Telegram) lands there with the reminder's values, once."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from integrations.boss.tables import BossSubscription
from integrations.services import simulated
from jobs.reminders import run
from jobs.tables import Outbox, ReminderGoto
from tests.bot.channels import test_sms_conversations as sms
from tests.bot.channels import test_telegram_conversations as tg
from tests.jobs.reminder_fakes import CATALOGS, KINDS, SETUP

ZH, EN = sms.ZH, sms.EN  # gold, Chinese; silver, English
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def app(settings_with, serve, db):
    return await serve(settings_with(sms_secrets="s1", telegram_enabled="true", telegram_token=tg.TOKEN,
                                     telegram_secret_token=tg.SECRET))


def low_balance(db, msisdn: str, now: datetime | None = None) -> None:
    """The balance falls to ¥8.50 and the low-balance run writes its reminder (one subscriber)."""
    now = now or datetime.now(timezone.utc)
    services = simulated(db, lambda: now)
    services.boss.set_balance(msisdn, 850, now - timedelta(minutes=1))
    counts = run(KINDS["low-balance"], now, db, services, CATALOGS, SETUP, msisdn=msisdn)
    assert counts.queued == 1


def points(db, msisdn: str) -> tuple[int, int]:
    account = simulated(db, lambda: datetime.now(timezone.utc)).boss.account(msisdn)
    return account.points, account.balance_fen


def gotos(db) -> list:
    with db.connect() as conn:
        return conn.execute(select(ReminderGoto.__table__)).all()


async def test_reply_1_to_a_low_balance_reminder_confirms_the_top_up_once(app, db):
    """The reminder's "1" shows the ¥50 top-up's confirmation; "1" tops up; a third "1" tops up nothing."""
    low_balance(db, EN)
    with db.connect() as conn:
        reminder = conn.execute(select(Outbox.__table__.c.text).where(Outbox.__table__.c.msisdn == EN,
                                                                       Outbox.__table__.c.kind == "reminder")).scalar()
    assert "Reply 1 to top up ¥50.00 with 2,500 points" in reminder
    held, _ = points(db, EN)
    assert (await sms.text(app, db, EN, "1")).startswith("Redeem 2,500 points for ¥50.00 top-up?\n1. Confirm")
    assert gotos(db) == []  # used: consumed with the reply
    assert "Done: ¥50.00 top-up." in await sms.text(app, db, EN, "1")
    assert points(db, EN) == (held - 2_500, 850 + 5_000)
    await sms.text(app, db, EN, "1")  # ordinary input on the result screen
    assert points(db, EN) == (held - 2_500, 850 + 5_000)


async def test_a_chinese_subscriber_replies_1_in_chinese(app, db):
    low_balance(db, ZH)
    assert (await sms.text(app, db, ZH, "１")).startswith("用2,500积分兑换50元话费？")  # a full-width one


async def test_an_expired_reminder_leaves_1_to_the_main_menu(app, db):
    """Past its 48 hours the goto is ignored: "1" is today's text that is no keyword."""
    low_balance(db, EN, datetime.now(timezone.utc) - timedelta(hours=49))
    assert (await sms.text(app, db, EN, "1")).startswith("Reply with a number, or text")


async def test_other_text_is_handled_as_today_and_keeps_the_goto(app, db):
    low_balance(db, EN)
    assert (await sms.text(app, db, EN, "PTS")).startswith("Points:")
    assert len(gotos(db)) == 1


async def test_a_reminder_written_after_the_last_hop_wins_over_a_live_menu(app, db):
    """The subscriber looked at the points menu, then got the reminder: their "1" answers the reminder."""
    assert (await sms.text(app, db, EN, "PTS")).startswith("Points:")
    low_balance(db, EN)
    assert (await sms.text(app, db, EN, "1")).startswith("Redeem 2,500 points for ¥50.00 top-up?")


async def test_a_live_session_answered_since_the_reminder_keeps_its_1(app, db):
    low_balance(db, EN)
    assert (await sms.text(app, db, EN, "PTS")).startswith("Points:")
    assert (await sms.text(app, db, EN, "1")).startswith("You have")  # points home: 1 = balance and expiry
    assert len(gotos(db)) == 1


async def test_a_question_being_answered_keeps_its_1(app, db):
    """Mid-flow on a question (the transfer's recipient), "1" is the subscriber's answer, not the reminder's."""
    await sms.text(app, db, EN, "PTS")
    assert "Send points to which number?" in await sms.text(app, db, EN, "4")
    low_balance(db, EN)
    assert (await sms.text(app, db, EN, "1")).startswith("Not a phone number.")
    assert len(gotos(db)) == 1


async def test_reply_1_to_a_package_reminder_renews_it_from_its_end(app, db):
    """Seven days before the end, "1" opens the renewal at the tier's price; paid, the end moves a year on."""
    now = datetime.now(timezone.utc)
    until = now.astimezone(SHANGHAI).date() + timedelta(days=7)
    services = simulated(db, lambda: now)
    assert services.boss.subscribe(ZH, "car_full", 20_000, 0, until, "test-sub").ok
    assert run(KINDS["package-expiring"], now, db, services, CATALOGS, SETUP, msisdn=ZH).queued == 1
    renewal = await sms.text(app, db, ZH, "1")
    renewed_until = until.replace(year=until.year + 1) if not (until.month == 2 and until.day == 29) else None
    assert renewal.startswith("续订车主全能包，支付方式") and "1. 话费支付¥200.00" in renewal, renewal
    confirm = await sms.text(app, db, ZH, "1")  # on the phone bill
    assert renewed_until is None or confirm.startswith(f"续订车主全能包至{renewed_until.year}年"), confirm
    assert (await sms.text(app, db, ZH, "1")).startswith("已续订车主全能包")
    with db.connect() as conn:
        subs = conn.execute(select(BossSubscription.__table__).where(
            BossSubscription.__table__.c.msisdn == ZH, BossSubscription.__table__.c.package == "car_full")).all()
    assert len(subs) == 1 and subs[0].status == "active"
    assert renewed_until is None or subs[0].until == renewed_until
    assert gotos(db) == []


async def test_a_package_no_longer_held_is_offered_anew_not_renewed(app, db):
    """The goto's values are checked, not trusted: a package cancelled since is the plain subscription."""
    now = datetime.now(timezone.utc)
    services = simulated(db, lambda: now)
    until = now.astimezone(SHANGHAI).date() + timedelta(days=7)
    assert services.boss.subscribe(EN, "health", 6_000, 0, until, "test-sub-2").ok
    assert run(KINDS["package-expiring"], now, db, services, CATALOGS, SETUP, msisdn=EN).queued == 1
    services.boss.unsubscribe(EN, "health")
    assert (await sms.text(app, db, EN, "1")).startswith("Pay by\n1. Phone bill ¥60.00")


async def test_telegram_reply_1_in_the_chat_confirms_the_top_up(app, db):
    """Linked on Telegram, the same "1" typed in the chat opens the top-up confirmation there."""
    await tg.share(app, db, EN)
    low_balance(db, EN)
    row = await tg.say(app, db, "1")
    assert row.text.startswith("Redeem 2,500 points for ¥50.00 top-up?")
    assert gotos(db) == []
