"""The simulated Bot API's timeline (`GET /control/timeline`): when each update was first POSTed to the
webhook and when each message was accepted, read incrementally; what the Telegram benchmark times with."""
from __future__ import annotations

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from integrations.telegram.simulator import Simulator, make_telegram_app
from integrations.telegram.timeline import Timeline
from tests.integrations.test_telegram_simulator import KEYBOARD, TOKEN, USER, Tg, receiver, until  # noqa: F401

T0 = 1_790_000_000.0


@pytest.fixture
async def ticking():
    """A simulator whose wall clock moves one second each time it is read."""
    ticks = iter(range(10_000))
    sim = Simulator(TOKEN, clock=lambda: T0 + next(ticks), retry_base_s=0.02)
    sim.limits.set({"global_per_s": 0, "chat_per_s": 0})
    server = TestServer(make_telegram_app(sim), host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as http:
        yield Tg(sim, f"http://127.0.0.1:{server.port}", http)
    await server.close()


async def test_timeline_records_the_first_delivery_and_each_accepted_message(ticking, receiver):
    """A delivery retried after a 500 is one `delivery`; sends and edits are `accepted` in order with their
    chat and message; a refused call and answerCallbackQuery are not there."""
    url, got, answers = receiver
    answers.append(500)
    async with ticking.bot() as bot:
        await bot.set_webhook(url, secret_token="s")
        update = await ticking.update("text", user_id=USER, text="1")
        await until(lambda: len(got) == 2)
        sent = await bot.send_message(USER, "Choose", reply_markup=KEYBOARD)
        await bot.edit_message_text("Booked", chat_id=USER, message_id=sent.message_id)
        with pytest.raises(Exception):
            await bot.send_message(999, "nobody")
    line = await ticking.get("timeline")
    events = [{k: v for k, v in e.items() if k != "at"} for e in line["events"]]
    assert events == [
        {"seq": 1, "event": "delivery", "update_id": update["update_id"]},
        {"seq": 2, "event": "accepted", "method": "sendMessage", "chat_id": USER, "message_id": sent.message_id},
        {"seq": 3, "event": "accepted", "method": "editMessageText", "chat_id": USER, "message_id": sent.message_id}]
    times = [e["at"] for e in line["events"]]
    assert times == sorted(times) and all(t >= T0 for t in times) and line["next"] == 3


async def test_timeline_is_read_after_a_sequence_number(ticking):
    async with ticking.bot() as bot:
        await ticking.update("text", user_id=USER, text="hi")
        for n in range(3):
            await bot.send_message(USER, f"m{n}")
    assert [e["seq"] for e in (await ticking.get("timeline?after=1&limit=1"))["events"]] == [2]
    rest = await ticking.get("timeline?after=2")
    assert [e["seq"] for e in rest["events"]] == [3] and rest["next"] == 3
    assert await ticking.get("timeline?after=3") == {"events": [], "next": 3}
    async with ticking.http.get(f"{ticking.base}/control/timeline?after=soon") as r:
        assert r.status == 400


def test_timeline_keeps_the_latest_and_numbers_them_from_the_start():
    line = Timeline(clock=lambda: T0, keep=3)
    for n in range(5):
        line.add("accepted", n=n)
    assert [e["seq"] for e in line.after(0)] == [3, 4, 5]
    assert [e["n"] for e in line.after(3)] == [3, 4]
    assert line.after(5) == []
