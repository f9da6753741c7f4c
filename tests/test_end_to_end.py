"""End to end with real processes over loopback: the simulated gateway, `shortcode serve` and an RQ
worker on a real Redis. A subscriber texts GOLF, books by numbered replies and gets the confirmation."""
from __future__ import annotations

import re

import pytest
from aiohttp import ClientSession
from sqlalchemy import create_engine, select

from jobs.tables import Outbox
from tests.processes import Stack, bring_up, eventually

EN = "+8613800000011"  # silver, English: golf is open to them


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url)
    await bring_up(stack, 50)
    yield stack
    stack.stop()


class Handset:
    """A subscriber's phone on the simulated gateway: texts go in by its control API, replies are the
    messages the gateway accepted for this number."""

    def __init__(self, stack: Stack, msisdn: str) -> None:
        self.stack, self.msisdn, self.seen = stack, msisdn, 0

    async def messages(self) -> list[dict]:
        async with ClientSession() as http:
            async with http.get(self.stack.gateway + "/control/stats") as r:
                stats = await r.json()
        return [m for m in stats["messages"] if m["to"] == self.msisdn]

    async def text(self, body: str) -> str:
        async with ClientSession() as http:
            async with http.post(self.stack.gateway + "/control/inbound",
                                 json={"from": self.msisdn, "to": "12580", "text": body}) as r:
                assert r.status == 200

        async def arrived():
            found = await self.messages()
            return found[self.seen:] if len(found) > self.seen else None

        (new,) = await eventually(arrived)
        self.seen += 1
        return new["text"]


async def test_text_golf_book_by_numbers_and_the_confirmation_is_delivered(stack):
    phone = Handset(stack, EN)
    assert (await phone.text("GOLF")).startswith("Golf\n1. Book a tee time")
    assert "Choose a course" in await phone.text("1")
    assert "Choose a date" in await phone.text("1")
    assert "Tee times" in await phone.text("3")
    assert "How many players?" in await phone.text("1")
    assert "Pay by" in await phone.text("2")
    assert "1. Confirm" in await phone.text("1")
    booked = await phone.text("1")
    code = re.search(r"Code (G\w+)", booked).group(1)

    engine = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    O = Outbox.__table__

    def delivered():
        with engine.connect() as conn:
            return conn.execute(select(O.c.dlr_status, O.c.status).where(O.c.text.contains(code))).first()

    row = await eventually(lambda: (r := delivered()) and r.dlr_status == "Success" and r)
    assert row.status == "sent"
    assert len(await phone.messages()) == 8  # one reply per text, nothing twice
    engine.dispose()
