"""The simulated SMS gateway over real HTTP: idempotent references, segments, faults, signed callbacks."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from integrations.smsgateway import BULK_PATH, SEND_PATH
from integrations.smsgateway.signing import SIGNATURE, TIMESTAMP, headers, verify
from integrations.smsgateway.simulator import Gateway, make_gateway_app

KEY = {"apiKey": "k"}


@pytest.fixture
async def receiver():
    """Our side of the callbacks, recording what arrives and whether it was signed right."""
    got: list[tuple[str, dict, bool]] = []

    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify(["s3cret"], request.headers.get(TIMESTAMP), request.headers.get(SIGNATURE), body)
        got.append((request.path, dict(await request.post()), ok))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/dlr", record)
    app.router.add_post("/inbound", record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", got
    await server.close()


@pytest.fixture
async def gateway(receiver):
    base, _ = receiver
    gw = Gateway("shortcode", "k", callback_url=f"{base}/dlr", inbound_url=f"{base}/inbound", secret="s3cret")
    server = TestServer(make_gateway_app(gw), host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as http:
        yield gw, f"http://127.0.0.1:{server.port}", http
    await server.close()


async def post(http, base, key="k", **form):
    form = {"username": "shortcode", "from": "12580", **form}
    async with http.post(base + SEND_PATH, data=form, headers={"apiKey": key}) as r:
        return r.status, await r.json()


async def test_send_reports_segments_and_repeated_reference_is_accepted_once(gateway, receiver):
    gw, base, http = gateway
    status, body = await post(http, base, to="+8613800000001", message="积分" * 40, clientReference="m1")
    first = body["SMSMessageData"]["Recipients"][0]
    assert status == 200 and first["statusCode"] == 101 and first["segments"] == 2 and first["encoding"] == "UCS-2"
    _, again = await post(http, base, to="+8613800000001", message="积分" * 40, clientReference="m1")
    assert again["SMSMessageData"]["Recipients"][0]["messageId"] == first["messageId"]
    assert gw.accepted == 1 and gw.submits == 2
    await asyncio.sleep(0.2)
    reports = [f for path, f, ok in receiver[1] if path == "/dlr" and ok]
    assert [r["status"] for r in reports] == ["Sent", "Success"] and reports[0]["id"] == first["messageId"]


async def test_invalid_and_blacklisted_numbers_get_their_codes(gateway):
    gw, base, http = gateway
    gw.blacklist.add("+8613800000002")
    _, body = await post(http, base, to="12345,+8613800000002", message="hi")
    assert [r["statusCode"] for r in body["SMSMessageData"]["Recipients"]] == [403, 406]


async def test_wrong_key_is_refused(gateway):
    _, base, http = gateway
    async with http.post(base + SEND_PATH, data={"username": "shortcode", "to": "+8613800000001", "message": "x"},
                         headers={"apiKey": "nope"}) as r:
        assert r.status == 401


async def test_error_faults_accept_nothing_and_the_cap_answers_429(gateway):
    gw, base, http = gateway
    async with http.post(base + "/control/faults", json={"error_rate": 1.0}) as r:
        assert r.status == 200
    status, _ = await post(http, base, to="+8613800000001", message="x", clientReference="e1")
    assert status == 500 and gw.accepted == 0
    await http.post(base + "/control/faults", json={"error_rate": 0.0, "max_per_second": 2})
    statuses = [(await post(http, base, to="+8613800000001", message="x", clientReference=f"c{n}"))[0]
                for n in range(4)]
    assert statuses == [200, 200, 429, 429] and gw.accepted == 2


async def test_duplicated_and_reordered_reports(gateway, receiver):
    gw, base, http = gateway
    await http.post(base + "/control/faults", json={"duplicate_dlr": 1.0, "reorder_dlr": True,
                                                    "dlr_mix": {"Failed": 1.0}})
    await post(http, base, to="+8613800000001", message="x", clientReference="d1")
    await asyncio.sleep(0.2)
    assert [f["status"] for p, f, _ in receiver[1] if p == "/dlr"] == ["Failed", "Sent", "Failed"]


async def test_injected_inbound_is_signed_and_can_repeat(gateway, receiver):
    _, base, http = gateway
    await http.post(base + "/control/faults", json={"repeat_inbound": 3})
    async with http.post(base + "/control/inbound", json={"from": "+8613800000001", "text": "GOLF"}) as r:
        message_id = (await r.json())["id"]
    inbound = [(f, ok) for p, f, ok in receiver[1] if p == "/inbound"]
    assert len(inbound) == 3 and all(ok and f["id"] == message_id and f["text"] == "GOLF" for f, ok in inbound)


def test_signatures_check_secret_time_and_rotation():
    body = b"id=1&text=STOP"
    h = headers("new", body, now=1_000_000)
    assert verify(["old", "new"], h[TIMESTAMP], h[SIGNATURE], body, now=1_000_100)
    assert not verify(["old"], h[TIMESTAMP], h[SIGNATURE], body, now=1_000_100)
    assert not verify(["new"], h[TIMESTAMP], h[SIGNATURE], body + b"x", now=1_000_100)
    assert not verify(["new"], h[TIMESTAMP], h[SIGNATURE], body, now=1_000_301)
    assert not verify(["new"], None, h[SIGNATURE], body)


async def test_shortcode_gateway_runs_as_its_own_process(tmp_path):
    """`shortcode gateway` serves the simulator on [sms] gateway_url; a send answers with a message id."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import free_port
    from tests.processes import SECRETS

    port = free_port()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "SHORTCODE_SMS_GATEWAY_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(root),
           **SECRETS}
    proc = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", "gateway"], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with ClientSession() as http:
            for _ in range(100):
                try:
                    status, body = await post(http, f"http://127.0.0.1:{port}", key=SECRETS["SHORTCODE_SMS_API_KEY"], to="+8613800000001",
                                              message="hi")
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        assert status == 200 and body["SMSMessageData"]["Recipients"][0]["messageId"].startswith("ATXid_")
    finally:
        proc.terminate()
        proc.wait(10)


async def test_counts_tell_accepted_and_first_and_latest_accept_without_listing_messages(gateway):
    """/control/counts: what a bulk benchmark polls; a repeated reference moves neither the accepted count nor
    the times, only `offered` (every message submitted: how a test sees a double send)."""
    gw, base, http = gateway
    async with http.get(base + "/control/counts") as r:
        assert await r.json() == {"submits": 0, "accepted": 0, "offered": 0, "first_accepted_at": 0,
                                  "last_accepted_at": 0}
    await post(http, base, to="+8613800000001", message="one", clientReference="m1")
    await post(http, base, to="+8613800000002", message="two", clientReference="m2")
    await post(http, base, to="+8613800000002", message="two", clientReference="m2")
    async with http.get(base + "/control/counts") as r:
        body = await r.json()
    first, latest = (m.accepted_at for m in gw.messages.values())
    assert body == {"submits": 3, "accepted": 2, "offered": 3, "first_accepted_at": first, "last_accepted_at": latest}
    assert "messages" not in body and first <= latest


async def bulk(http, base, *messages):
    body = {"username": "shortcode", "messages": [{"to": to, "message": text, "from": "12580", "clientReference": ref}
                                                  for to, text, ref in messages]}
    async with http.post(base + BULK_PATH, json=body, headers=KEY) as r:
        return r.status, await r.json()


def sent(number, message_id, segments, encoding, ref):
    return {"statusCode": 101, "number": number, "status": "Sent", "cost": f"CNY {segments * 0.05:.4f}",
            "messageId": message_id, "segments": segments, "encoding": encoding, "clientReference": ref}


async def test_bulk_answers_every_message_in_order_with_its_code_and_a_repeat_with_the_first_id(gateway):
    """The whole answer, field by field: invalid, blacklisted, two segments of UCS-2, a repeated reference."""
    gw, base, http = gateway
    gw.blacklist.add("+8613800000002")
    messages = [("12345", "x", "b1"), ("+8613800000002", "x", "b2"), ("+8613800000003", "积分" * 40, "b3"),
                ("+8613800000004", "hi €", "b4"), ("+8613800000003", "积分" * 40, "b3")]
    status, body = await bulk(http, base, *messages)
    assert status == 200 and body == {"SMSMessageData": {"Recipients": [
        {"statusCode": 403, "number": "12345", "status": "InvalidPhoneNumber", "cost": "0", "messageId": "None",
         "clientReference": "b1"},
        {"statusCode": 406, "number": "+8613800000002", "status": "UserInBlacklist", "cost": "0",
         "messageId": "None", "clientReference": "b2"},
        sent("+8613800000003", "ATXid_00000001", 2, "UCS-2", "b3"),
        sent("+8613800000004", "ATXid_00000002", 1, "GSM-7", "b4"),
        sent("+8613800000003", "ATXid_00000001", 2, "UCS-2", "b3")]}}
    assert gw.accepted == 2 and list(gw.messages) == ["ATXid_00000001", "ATXid_00000002"]


async def test_only_the_latest_messages_are_kept_but_every_reference_is_answered_as_first(gateway):
    """Memory stays bounded over a million messages; a repeat of a forgotten message is still accepted once."""
    gw, base, http = gateway
    gw.messages.keep = 2
    _, first = await bulk(http, base, ("+8613800000001", "积分" * 40, "k1"), ("+8613800000002", "b", "k2"),
                          ("+8613800000003", "c", "k3"))
    assert list(gw.messages) == ["ATXid_00000002", "ATXid_00000003"]
    _, again = await bulk(http, base, ("+8613800000001", "other text", "k1"))
    assert again["SMSMessageData"]["Recipients"][0] == first["SMSMessageData"]["Recipients"][0]
    async with http.get(base + "/control/counts") as r:
        assert (await r.json())["accepted"] == 3
    async with http.get(base + "/control/stats") as r:
        assert [m["reference"] for m in (await r.json())["messages"]] == ["k2", "k3"]
