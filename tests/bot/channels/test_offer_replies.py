"""The campaign's closed loop over the real webhooks: a campaign message and its goto written as the campaign
job writes them, a "1" texted back takes the offer, and however the reply is repeated it is credited once."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert

from integrations.services import simulated
from jobs.tables import Outbox, ReminderGoto, TelegramOutbox
from tests.bot.channels import test_sms_conversations as sms
from tests.bot.channels import test_telegram_conversations as tg
from tests.bot.channels.test_reminder_replies import gotos, points

ZH, EN = sms.ZH, sms.EN  # gold, Chinese, 12,800 points; silver, English
G = ReminderGoto.__table__


@pytest.fixture
async def app(settings_with, serve, db):
    return await serve(settings_with(sms_secrets="s1", telegram_enabled="true", telegram_token=tg.TOKEN,
                                     telegram_secret_token=tg.SECRET))


@pytest.fixture
async def brief(settings_with, serve, db):
    """SMS sessions that go idle after 2 s: a "1" after that continues a goto, not the last screen."""
    return await serve(settings_with(sms_secrets="s1", sms_session_window=2, jobs_queue=f"q-brief-{id(db)}"))


WINDOW = 2.2


def offer(db, msisdn: str, params: dict, chat: int | None = None, campaign: int = 7) -> None:
    """What the campaign job writes for one treated member: its message (SMS, or Telegram when `chat`) and
    the goto a "1" continues, with cause `cmp:<id>:<msisdn>`; written again, the message stays one row."""
    now, cause = datetime.now(timezone.utc), f"cmp:{campaign}:{msisdn}"
    table, row = (TelegramOutbox.__table__, {"chat_id": chat}) if chat else (Outbox.__table__, {})
    with db.begin() as conn:
        if not conn.execute(table.select().where(table.c.cause == cause)).first():
            conn.execute(insert(table).values(msisdn=msisdn, text="回复1领取2,000积分", cause=cause, kind="marketing",
                                              status="sent", next_attempt_at=now, created_at=now, **row))
        conn.execute(delete(G).where(G.c.msisdn == msisdn))
        conn.execute(insert(G).values(msisdn=msisdn, kind="campaign", goto="offers.claim", cause=cause,
                                      params=json.dumps({"campaign": campaign, **params}),
                                      expires_at=now + timedelta(hours=48)))


def bill(db, msisdn: str) -> int:
    return simulated(db).boss.account(msisdn).bill_fen


def awarded(db, prefix: str = "cmp:7:") -> int:
    return simulated(db).boss.awarded(prefix)


async def test_reply_1_credits_the_points_once_with_a_confirmation_in_chinese_and_english(app, db):
    """Each language gets its confirmation with the new balance; a second "1" is ordinary input, credits nothing."""
    held = points(db, EN)[0]
    for who in (ZH, EN):
        offer(db, who, {"points": 2_000})
    assert (await sms.text(app, db, ZH, "1")).startswith("已领取2,000积分，当前积分14,800。")
    assert (await sms.text(app, db, EN, "1")).startswith(f"You received 2,000 points; balance {held + 2_000:,}.")
    assert gotos(db) == []  # used with the reply
    await sms.text(app, db, ZH, "1")
    assert points(db, ZH)[0] == 14_800 and points(db, EN)[0] == held + 2_000 and awarded(db) == 2


async def test_a_goto_written_twice_answers_already_received_and_credits_once(brief, db):
    """A repeated campaign job writes the goto again, before the reply and after it: the "1" that continues
    it once the session is idle is told the offer was taken."""
    offer(db, ZH, {"points": 2_000})
    offer(db, ZH, {"points": 2_000})
    assert (await sms.text(brief, db, ZH, "1")).startswith("已领取2,000积分")
    offer(db, ZH, {"points": 2_000})
    await asyncio.sleep(WINDOW)
    assert (await sms.text(brief, db, ZH, "1")).startswith("您已领取过该优惠，当前积分14,800。")
    assert points(db, ZH)[0] == 14_800 and awarded(db) == 1


async def test_telegram_reply_1_takes_the_offer_and_sms_cannot_take_it_again(app, db):
    """Linked on Telegram, the offer sent there is taken by a "1" in the chat; the same offer's goto written
    again and answered by SMS credits nothing more."""
    await tg.share(app, db, EN)
    held = points(db, EN)[0]
    offer(db, EN, {"points": 2_000}, chat=tg.USER)
    assert (await tg.say(app, db, "1")).text.startswith(f"You received 2,000 points; balance {held + 2_000:,}.")
    assert gotos(db) == []
    offer(db, EN, {"points": 2_000}, chat=tg.USER)
    assert (await sms.text(app, db, EN, "1")).startswith("You already received this offer")
    assert points(db, EN)[0] == held + 2_000


async def test_a_package_offer_is_confirmed_then_subscribed_at_the_offer_price_once(brief, db):
    """Silver pays ¥60.00 a year for Health standard; the campaign offers ¥40.00, charged once on the bill,
    and the goto written again later finds the package held."""
    before = bill(db, EN)
    offer(db, EN, {"package": "health", "price_fen": 4_000})
    confirm = await sms.text(brief, db, EN, "1")
    assert confirm.startswith("Health standard at ¥40.00/year instead of ¥60.00/year. Subscribe?\n1. Yes\n2. No")
    assert (await sms.text(brief, db, EN, "1")).startswith("Subscribed to Health standard until")
    offer(db, EN, {"package": "health", "price_fen": 4_000})
    await asyncio.sleep(WINDOW)
    assert (await sms.text(brief, db, EN, "1")).startswith("You already have Health standard. Nothing was charged.")
    assert bill(db, EN) == before + 4_000 and awarded(db) == 1


async def test_a_declined_package_offer_charges_nothing(app, db):
    before = bill(db, ZH)
    offer(db, ZH, {"package": "car_full", "price_fen": 15_000})
    assert (await sms.text(app, db, ZH, "1")).startswith("车主全能包优惠价¥150.00/年（原价¥200.00/年），是否订购？")
    assert (await sms.text(app, db, ZH, "2")).startswith("好的，未扣费。")
    assert bill(db, ZH) == before and simulated(db).boss.subscriptions(ZH) == [] and awarded(db) == 0


async def test_an_offer_of_a_package_no_longer_sold_says_so_and_charges_nothing(app, db):
    before = bill(db, EN)
    offer(db, EN, {"package": "health_plus", "price_fen": 4_000})  # retired since the campaign was written
    assert (await sms.text(app, db, EN, "1")).startswith("This offer is no longer available. Nothing was charged.")
    assert bill(db, EN) == before and simulated(db).boss.subscriptions(EN) == []
