"""Delivery reports over real HTTP: the simulated gateway reports to our /sms/dlr, signed; shuffled and
duplicated reports still end at the right status."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.models import Outbox
from integrations.smsgateway.client import GatewayClient
from integrations.smsgateway.signing import headers
from integrations.smsgateway.simulator import Gateway, make_gateway_app
from jobs.outbox import Sender, add

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
async def ours(settings_with, serve, db):
    return await serve(settings_with(sms_secrets="dlr-secret"))


async def report(base, form, secret="dlr-secret"):
    body = urlencode(form).encode()
    async with ClientSession() as http:
        async with http.post(f"{base}/sms/dlr", data=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", **headers(secret, body)}) as r:
            return r.status, await r.text()


async def test_reports_are_signed_and_statuses_checked(ours):
    assert (await report(ours, {"id": "x", "status": "Success"}, secret="nope"))[0] == 403
    assert (await report(ours, {"id": "x", "status": "Delivered?"}))[0] == 400
    assert await report(ours, {"id": "x", "status": "Success"}) == (200, "OK (parked)")


@pytest.mark.parametrize("faults", [{}, {"duplicate_dlr": 1.0, "reorder_dlr": True},
                                    {"dlr_mix": {"Success": 1, "Failed": 1}, "duplicate_dlr": 0.5}])
async def test_gateway_reports_reach_the_outbox_with_final_statuses(ours, db, faults):
    gw = Gateway("shortcode", "k", callback_url=f"{ours}/sms/dlr", secret="dlr-secret")
    for name, value in faults.items():
        setattr(gw.faults, name, value)
    server = TestServer(make_gateway_app(gw), host="127.0.0.1")
    await server.start_server()
    with db.begin() as conn:
        for n in range(20):
            add(conn, "+8613800000001", f"m{n}", f"dlr:{n}", NOW)
    with db.connect() as conn:
        ids = list(conn.execute(select(Outbox.id)).scalars())
    sender = Sender(db, GatewayClient(f"http://127.0.0.1:{server.port}", "shortcode", "k"), backoff=(0, 0, 0),
                    clock=lambda: NOW)
    await asyncio.to_thread(sender.send, ids)
    for _ in range(100):
        await asyncio.sleep(0.05)
        final = {m.id: m.status for m in gw.messages.values()}  # what the gateway decided, in the end
        with db.connect() as conn:
            got = dict(conn.execute(select(Outbox.gateway_message_id, Outbox.dlr_status)).all())
        if got == final:
            break
    await server.close()
    assert got == final and set(final.values()) <= {"Success", "Failed"}
