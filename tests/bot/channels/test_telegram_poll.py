"""Polling stores updates in the same inbox, and resumes after a restart from what it stored: nothing
stored is fetched (or answered) again."""
from __future__ import annotations

from bot.channels.telegram_poll import poll_once
from bot.models import TelegramInbox
from sqlmodel import Session as DbSession, select
from tests.integrations.test_telegram_simulator import TOKEN, USER, tg  # noqa: F401  (the simulator fixture)


async def test_polling_stores_each_update_once_across_restarts(tg, db):  # noqa: F811
    answered: list[int] = []

    async def process(inbox_id: int) -> bool:
        answered.append(inbox_id)
        return True

    await tg.update("text", user_id=USER, text="hello")
    await tg.update("text", user_id=USER, text="again")
    assert await poll_once(db, tg.bot(), "123456", process, timeout=0) == 2
    # a restarted poller (a new bot, nothing in memory) resumes from the inbox: nothing replayed
    assert await poll_once(db, tg.bot(), "123456", process, timeout=0) == 0
    await tg.update("text", user_id=USER, text="third")
    assert await poll_once(db, tg.bot(), "123456", process, timeout=0) == 1
    with DbSession(db) as s:
        assert sorted(r.text for r in s.exec(select(TelegramInbox)).all()) == ["again", "hello", "third"]
    assert len(answered) == 3


async def test_an_update_that_cannot_be_read_is_passed_over_and_the_rest_answered(tg, db):  # noqa: F811
    """One unreadable update in a batch (PTB's own get_updates would fail the whole batch on it, for ever):
    it is stored as `other`, unanswered, and the offset moves past it; the good updates around it are answered."""
    answered: list[int] = []

    async def process(inbox_id: int) -> bool:
        answered.append(inbox_id)
        return True

    await tg.update("text", user_id=USER, text="before")
    bad = next(tg.sim.telegram.update_ids)  # in the simulator's own order, before the next good one
    tg.sim.updates.push({"update_id": bad, "message": {"message_id": 5, "date": "not a date",
                                                       "chat": {"id": USER, "type": "private"}, "text": "x"}})
    assert await poll_once(db, tg.bot(), "123456", process, timeout=0) == 2
    await tg.update("text", user_id=USER, text="after")
    assert await poll_once(db, tg.bot(), "123456", process, timeout=0) == 1
    with DbSession(db) as s:
        rows = {r.update_id: (r.kind, r.text) for r in s.exec(select(TelegramInbox)).all()}
    assert rows[bad] == ("other", "") and sorted(t for k, t in rows.values() if k == "text") == ["after", "before"]
