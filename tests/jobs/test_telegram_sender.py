"""The Telegram outbox against the simulated Bot API over real HTTP, through python-telegram-bot: sent once,
edited in place, presses answered, Telegram's limits and errors honoured."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
import telegram
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, select

from bot.channels.telegram_outbound import TelegramOutbound
from bot.channels.telegram_render import Drawn
from bot.db import make_engine, upgrade
from bot.models import TelegramLink, TelegramLinkEvent
from integrations.telegram.simulator import Simulator, make_telegram_app
from jobs.tables import OptOut, TelegramOutbox
from jobs.telegram import Pace, TelegramSender

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:TEST-token"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # for facts only; rows are due at the real now
CHATS = (5550001, 5550002, 5550003, 5550004)
MENU = json.dumps({"inline_keyboard": [[{"text": "1. Golf", "callback_data": "p1:1:1"}]]})


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc) + timedelta(seconds=1)  # after every row written so far

    def __call__(self):
        return self.now


class FakeTime:
    """The pace's clock: sleeping moves it on at once, and every sleep is recorded."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
async def sim():
    sim = Simulator(TOKEN, retry_base_s=0.02)
    sim.limits.set({"global_per_s": 0, "chat_per_s": 0})  # our pacing is tested on its own
    for chat in CHATS:
        sim.telegram.user(chat)
    server = TestServer(make_telegram_app(sim), host="127.0.0.1")
    await server.start_server()
    sim.base = f"http://127.0.0.1:{server.port}/bot"
    yield sim
    await server.close()


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def make_sender(engine, sim, clock=None, pace=None, **kw) -> TelegramSender:
    bot = telegram.Bot(TOKEN, base_url=sim.base)
    fake = FakeTime()
    return TelegramSender(engine, bot, pace or Pace(30, 1.0, fake.clock, fake.sleep), backoff=(0, 0, 0),
                          clock=clock or Clock(), **kw)


def write(engine, chat, text, cause, kind="reply", **kw) -> int | None:
    with engine.begin() as conn:
        return TelegramOutbound.write(conn, chat, "+8613800000001", Drawn(text, kw.pop("markup", "")) if text else None,
                                      cause, kind, **kw)


def rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(TelegramOutbox).order_by(TelegramOutbox.id)).all()


def bot_texts(sim, chat) -> list[str]:
    return [m.text for m in sim.telegram.chats[chat].messages.values() if m.sender == "bot"]


async def send(sender, ids) -> int:
    return await asyncio.to_thread(sender.send, ids)


async def test_a_row_is_sent_once_with_its_keyboard_and_message_id(sim, engine):
    """The same cause twice is one row; the message carries the inline keyboard; its id is recorded."""
    first = write(engine, CHATS[0], "Main menu", "c1", markup=MENU)
    assert write(engine, CHATS[0], "again", "c1") is None
    sender = make_sender(engine, sim)
    assert await send(sender, [first]) == 1 and await send(sender, [first]) == 0
    (row,) = rows(engine)
    message = sim.telegram.chats[CHATS[0]].messages[row.telegram_message_id]
    assert row.status == "sent" and message.text == "Main menu"
    assert message.reply_markup["inline_keyboard"][0][0]["callback_data"] == "p1:1:1"


async def test_navigation_edits_the_pressed_message_in_place_and_answers_the_press(sim, engine):
    sender = make_sender(engine, sim)
    await send(sender, [write(engine, CHATS[0], "Main menu", "c1", markup=MENU)])
    menu_id = rows(engine)[0].telegram_message_id
    update = sim.telegram.press(sim.telegram.chats[CHATS[0]], data="p1:1:1")
    query = update["callback_query"]["id"]
    edit = write(engine, CHATS[0], "Golf", "c2", edit_message_id=menu_id, callback_id=query)
    again = write(engine, CHATS[0], "Golf", "c3", edit_message_id=menu_id)  # the same screen: not modified
    assert await send(sender, [edit, again]) == 2
    chat = sim.telegram.chats[CHATS[0]]
    assert bot_texts(sim, CHATS[0]) == ["Golf"] and chat.messages[menu_id].edits[0]["text"] == "Main menu"
    assert [a["callback_query_id"] for a in chat.answers] == [query]
    assert [r.status for r in rows(engine)] == ["sent"] * 3


async def test_a_press_on_an_expired_menu_is_answered_with_its_notice(sim, engine):
    sender = make_sender(engine, sim)
    await send(sender, [write(engine, CHATS[0], "Main menu", "c1", markup=MENU)])
    query = sim.telegram.press(sim.telegram.chats[CHATS[0]], data="p1:1:1")["callback_query"]["id"]
    row = write(engine, CHATS[0], "", "expired", callback_id=query, notice="This menu has expired.")
    assert await send(sender, [row]) == 1
    (answer,) = sim.telegram.chats[CHATS[0]].answers
    assert answer["text"] == "This menu has expired." and bot_texts(sim, CHATS[0]) == ["Main menu"]


async def test_a_flood_storm_waits_retry_after_and_delivers_every_message_once(sim, engine):
    """Twelve 429s in a row: each waits its retry_after, no attempt is spent, every row goes once."""
    sim.limits.set({"global_per_s": 0, "chat_per_s": 0, "flood": {"calls": 12, "retry_after": 2}})
    ids = [write(engine, chat, f"hello {chat}", f"c{chat}") for chat in CHATS]
    fake = FakeTime()
    sender = make_sender(engine, sim, pace=Pace(30, 1.0, fake.clock, fake.sleep))
    assert await send(sender, ids) == 4
    assert [(r.status, r.attempts) for r in rows(engine)] == [("sent", 1)] * 4
    assert all(bot_texts(sim, chat) == [f"hello {chat}"] for chat in CHATS)
    assert sum(s for s in fake.sleeps if s >= 1) >= 12 * 2 - 1e-6  # waited, never a tight loop
    assert sim.errors["sendMessage 429"] == 12


async def test_a_long_retry_after_reschedules_the_rows_for_later(sim, engine):
    sim.limits.set({"global_per_s": 0, "chat_per_s": 0, "flood": {"calls": 1, "retry_after": 60}})
    ids = [write(engine, chat, "hi", f"c{chat}") for chat in CHATS[:2]]
    clock = Clock()
    sender = make_sender(engine, sim, clock=clock)
    assert await send(sender, ids) == 0
    assert [(r.status, r.attempts, r.next_attempt_at.replace(tzinfo=timezone.utc)) for r in rows(engine)] == [
        ("pending", 0, clock.now + timedelta(seconds=60))] * 2
    assert sender.due() == []
    clock.now += timedelta(seconds=60)
    assert sender.due() == ids and await send(sender, ids) == 2


async def test_a_user_who_blocked_the_bot_is_tried_once_and_their_link_made_inactive(sim, engine):
    with engine.begin() as conn:
        conn.execute(insert(TelegramLink.__table__).values(user_id=CHATS[0], msisdn="+8613800000001",
                                                           chat_id=CHATS[0], active=True, linked_at=NOW, update_id=1))
    sim.telegram.block(sim.telegram.chats[CHATS[0]], True)
    ids = [write(engine, CHATS[0], f"m{i}", f"c{i}") for i in range(3)]
    sender = make_sender(engine, sim)
    assert await send(sender, ids) == 0
    assert [(r.status, r.attempts) for r in rows(engine)] == [("failed", 1)] * 3
    assert await send(sender, ids) == 0 and sender.due() == []
    assert sim.calls["sendMessage"] == 1  # no retry storm
    with engine.connect() as conn:
        assert conn.execute(select(TelegramLink.__table__.c.active)).scalar_one() is False
        assert [e.event for e in conn.execute(select(TelegramLinkEvent.__table__)).all()] == ["blocked"]


async def test_messages_to_one_chat_are_paced_so_telegram_never_refuses_them(sim, engine):
    """The simulated Telegram refuses a second message to a chat within 0.2 s; paced, none is refused,
    and the other chats do not wait behind the busy one."""
    sim.limits.set({"global_per_s": 0, "chat_per_s": 5, "chat_burst": 1})
    ids = [write(engine, CHATS[0], f"m{i}", f"c{i}") for i in range(5)]
    ids += [write(engine, chat, "other", f"o{chat}") for chat in CHATS[1:]]
    sender = make_sender(engine, sim, pace=Pace(30, 0.25))
    assert await send(sender, ids) == 8
    assert not sim.errors and [(r.status, r.attempts) for r in rows(engine)] == [("sent", 1)] * 8
    assert bot_texts(sim, CHATS[0]) == [f"m{i}" for i in range(5)]


async def test_errors_retry_with_backoff_then_fail_after_the_last_attempt(sim, engine):
    sim.limits.set({"global_per_s": 0, "chat_per_s": 0, "error_rate": 1.0, "error_status": 502})
    ids = [write(engine, CHATS[0], "hi", "c1")]
    sender = make_sender(engine, sim)
    await send(sender, ids)
    assert [(r.status, r.attempts) for r in rows(engine)] == [("pending", 1)]
    sim.limits.set({"error_rate": 0.0})
    assert await send(sender, ids) == 1 and bot_texts(sim, CHATS[0]) == ["hi"]
    sim.limits.set({"error_rate": 1.0})
    other = [write(engine, CHATS[1], "x", "c2")]
    for _ in range(6):
        await send(sender, other)
    assert (rows(engine)[1].status, rows(engine)[1].attempts) == ("failed", 4)


async def test_an_opt_out_stops_reminders_but_not_replies(sim, engine):
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+8613800000001", opted_out=True, channel="telegram",
                                                     text="/stop", changed_at=NOW))
    ids = [write(engine, CHATS[0], "reminder", "r", kind="reminder"), write(engine, CHATS[0], "reply", "c")]
    assert await send(make_sender(engine, sim), ids) == 1
    assert [r.status for r in rows(engine)] == ["suppressed", "sent"] and bot_texts(sim, CHATS[0]) == ["reply"]


async def test_a_crash_between_claim_and_send_is_sent_by_the_rescan_once(sim, engine):
    ids = [write(engine, chat, "hi", f"c{chat}") for chat in CHATS]
    clock = Clock()
    dying = make_sender(engine, sim, clock=clock)
    dying._one = lambda *a: (_ for _ in ()).throw(SystemExit)  # dies after claiming
    with pytest.raises(SystemExit):
        await send(dying, ids)
    alive = make_sender(engine, sim, clock=clock)
    assert alive.due() == [] and await send(alive, ids) == 0  # still claimed
    clock.now += timedelta(seconds=61)
    assert alive.due() == ids and await send(alive, ids) == 4
    assert all(bot_texts(sim, chat) == ["hi"] for chat in CHATS)
    assert alive.due() == []


async def test_rq_jobs_on_a_real_redis_send_the_telegram_outbox(sim, engine, redis_url, settings, monkeypatch):
    """hand_off queues ids only; the re-scan picks up what Redis never got; a real RQ worker sends both."""
    import redis
    from rq import Queue

    from jobs import process, telegram as sending
    from jobs.worker import ThreadWorker

    monkeypatch.setitem(process._LENT, "telegram sender", make_sender(engine, sim))
    conn = redis.Redis.from_url(redis_url)
    queue = Queue(f"tg-{settings.redis.prefix}", connection=conn)
    handed = [write(engine, CHATS[0], "handed", "h")]
    lost = [write(engine, CHATS[1], "lost", "l")]  # written, never handed off
    outbound = TelegramOutbound(queue)
    await outbound.hand_off(handed)
    await outbound.drain()
    (job,) = queue.jobs
    assert job.args == (handed,)
    queue.enqueue(sending.rescan)
    await asyncio.to_thread(ThreadWorker([queue], connection=conn).work, burst=True)
    assert bot_texts(sim, CHATS[0]) == ["handed"] and bot_texts(sim, CHATS[1]) == ["lost"]
    assert [r.status for r in rows(engine)] == ["sent", "sent"]


async def test_a_confirmation_telegram_will_not_take_goes_by_sms_once_and_a_reply_does_not(sim, engine):
    """The user blocked the bot after choosing the chat for confirmations: the booking code still reaches
    them, by SMS, once however often the row is tried; a menu reply has nothing to fall back to."""
    from jobs.tables import Outbox

    sim.telegram.block(sim.telegram.chats[CHATS[0]], True)
    code = write(engine, CHATS[0], "Booked. Code G77.", "confirm:1", kind="confirmation")
    menu = write(engine, CHATS[0], "Shortcode services", "tg-in:1")
    sender = make_sender(engine, sim)
    assert await send(sender, [code, menu]) == 0
    assert await send(sender, [code, menu]) == 0
    with engine.connect() as conn:
        sms = conn.execute(select(Outbox.__table__)).all()
    assert [(r.msisdn, r.text, r.kind, r.cause) for r in sms] == [
        ("+8613800000001", "Booked. Code G77.", "confirmation", f"tg-fallback:{code}")]
    assert sender.fell_back == [code]


async def test_the_rq_job_hands_a_fallback_to_the_sms_sender_at_once(sim, engine, redis_url, settings, monkeypatch):
    """On a real Redis and RQ worker: the SMS row written for a blocked chat's confirmation is queued by the
    Telegram job itself, not left for the SMS re-scan."""
    import redis
    from rq import Queue

    from jobs import process
    from jobs.tables import Outbox
    from jobs.worker import ThreadWorker

    class SmsSender:  # the SMS gateway is tested elsewhere: here only what reaches it
        def __init__(self):
            self.ids = []

        def send(self, ids):
            self.ids += ids
            return len(ids)

    sms = SmsSender()
    monkeypatch.setitem(process._LENT, "telegram sender", make_sender(engine, sim))
    monkeypatch.setitem(process._LENT, "outbox sender", sms)
    sim.telegram.block(sim.telegram.chats[CHATS[0]], True)
    conn = redis.Redis.from_url(redis_url)
    queue = Queue(f"tgfb-{settings.redis.prefix}", connection=conn)
    outbound = TelegramOutbound(queue)
    await outbound.hand_off([write(engine, CHATS[0], "Booked. Code G78.", "confirm:2", kind="confirmation")])
    await outbound.drain()
    await asyncio.to_thread(ThreadWorker([queue], connection=conn).work, burst=True)
    with engine.connect() as db:
        fallback = db.execute(select(Outbox.__table__.c.id)).scalar_one()
    assert sms.ids == [fallback]
