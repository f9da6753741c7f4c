"""A third channel plugs in: one more entry in the channel table, and the text conversation over that
channel's own inbox, with nothing else of the runtime changed. The "chat" channel here stands in for
Telegram: its replies go to a chat id, not to the subscriber's number."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aredis
from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.channels.conversation import InboxRow, Speech, TextConversation
from bot.channels.table import Channel, channel_table
from bot.dispatcher import Inbound, Reply
from bot.engine.engine import Policy
from bot.engine.render import Budget
from bot.rates import MinuteCounter
from bot.store import SessionStore
from bot.wiring import build_core, build_dispatcher
from jobs.tables import OptOut

EN = "+8613800000011"  # silver, English
CHAT = "chat-4242"


def chat_channel() -> Channel:
    """Long screens, a session for an hour, never a resume, keys of its own."""
    return Channel("chat", Policy(idle_timeout=3600, resume_window=-1), Budget(4096, 4096), session_ttl=3600,
                   key_prefix="chat:", confirms_by_sms=False)


class MemoryInbox:
    """A channel's inbox kept in memory; opt-outs still go to the database in the mark's transaction."""

    channel = "chat"
    wording: dict = {}

    def __init__(self, db) -> None:
        self.db = db
        self.rows: dict[int, InboxRow] = {}
        self.sent: list[tuple[str, str, str]] = []  # (to, text, kind)
        self.handed: list[int] = []

    def receive(self, text: str, at: datetime) -> int:
        row_id = len(self.rows) + 1
        self.rows[row_id] = InboxRow(row_id, EN, text, at, to=CHAT, ref=f"update-{row_id}")
        return row_id

    def row(self, row_id: int) -> InboxRow | None:
        return self.rows.get(row_id)

    def unanswered(self, msisdn: str, up_to: int, limit: int = 100) -> list[InboxRow]:
        return [r for r in self.rows.values() if r.msisdn == msisdn and not r.processed and r.id <= up_to][:limit]

    def unprocessed(self, before: datetime, limit: int = 1000) -> list[int]:
        return [r.id for r in self.rows.values() if not r.processed and r.received_at < before][:limit]

    async def settle(self, row: InboxRow, reply: Reply | None, kind: str, also=None) -> int | None:
        if self.rows[row.id].processed:
            return None
        with self.db.begin() as conn:
            if also is not None:
                also(conn)
        self.rows[row.id] = replace(row, processed=True)
        if reply is None:
            return None
        self.sent.append((row.to, reply.text, kind))  # a channel with buttons would draw the Reply
        return len(self.sent)

    async def hand_off(self, ids: list[int]) -> None:
        self.handed += ids


@pytest.fixture
async def chat(settings, db, redis_url):
    core = build_core(settings, {**channel_table(settings), "chat": chat_channel()})
    redis = aredis.Redis.from_url(redis_url)
    dispatcher = build_dispatcher(core, redis, db, channel="chat")
    yield core, dispatcher, redis
    await redis.aclose()


async def test_a_third_channel_is_one_more_entry_in_the_table(chat, settings):
    """Its own engine policy, renderer budget and session key: the whole main menu on one screen, a
    session under "chat:", and the subscriber's USSD session untouched."""
    core, dispatcher, redis = chat
    assert core.engines["chat"].policy.idle_timeout == 3600 and core.renderers["chat"].budget.gsm7 == 4096
    reply = await dispatcher.handle(Inbound("chat", EN, CHAT, None, 0))
    assert reply.pages == 1 and reply.screen.kind == "menu" and not reply.final
    assert reply.text.splitlines()[1:] == [f"{n}. {core.catalogs.render('en', o)}"
                                         for n, o in enumerate(reply.screen.options, 1)]
    store = SessionStore(redis, settings.redis.prefix)
    assert (await store.peek(dispatcher.channel.session_key(EN))).ref == CHAT
    assert await store.peek(core.channels["ussd"].session_key(EN)) is None


async def test_the_text_conversation_answers_a_channel_that_is_not_sms(chat, db):
    """Keywords, numbered replies and STOP through the chat channel's inbox: replies go to the chat,
    the opt-out is recorded as the chat channel's, and every message is answered once."""
    core, dispatcher, redis = chat
    now = datetime.now(timezone.utc)
    inbox = MemoryInbox(db)
    speech = Speech(dispatcher.subscribers.profile, core.catalogs.render, "zh_Hans")
    conversation = TextConversation(inbox, dispatcher, core.menus, MinuteCounter(redis, f"chat-rate-{id(db)}:"),
                                    speech, "12580", clock=lambda: now)
    for text in ("PTS", "1", "STOP"):
        assert await conversation.process(inbox.receive(text, now))
    assert await conversation.process(1)  # processed again: answered once
    assert [(to, kind) for to, _, kind in inbox.sent] == [(CHAT, "reply"), (CHAT, "reply"), (CHAT, "confirmation")]
    assert inbox.sent[1][1].startswith("You have") and "no more reminders" in inbox.sent[2][1]
    assert inbox.handed == [1, 2, 3]
    with db.connect() as conn:
        opt = conn.execute(select(OptOut.__table__).where(OptOut.__table__.c.msisdn == EN)).one()
    assert opt.opted_out and opt.channel == "chat"
    assert conversation.unprocessed(timedelta(0)) == []


async def test_the_flood_limit_counts_in_the_channels_own_namespace(chat, db):
    """Over the limit: one notice to the chat, then silence; the flow is never reached."""
    core, dispatcher, redis = chat
    now = datetime.now(timezone.utc)
    inbox = MemoryInbox(db)
    speech = Speech(dispatcher.subscribers.profile, core.catalogs.render, "zh_Hans")
    conversation = TextConversation(inbox, dispatcher, core.menus, MinuteCounter(redis, f"flood-{id(db)}:"),
                                    speech, "12580", clock=lambda: now, max_per_minute=2)
    for _ in range(4):
        assert await conversation.process(inbox.receive("PTS", now))
    texts = [text for _, text, _ in inbox.sent]
    assert len(texts) == 3 and texts[2].startswith("You are sending messages too fast")
    assert all(r.processed for r in inbox.rows.values())
