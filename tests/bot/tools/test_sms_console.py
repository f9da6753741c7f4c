"""`shortcode sim --sms`: the tester's handset texts through the simulated gateway and shows every message
that reaches its number, as it arrives, with its encoding and segments."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.tools.sms_console import GatewayDown, SmsConsole
from integrations.smsgateway.client import GatewayClient
from integrations.smsgateway.simulator import Gateway, make_gateway_app
from tests.conftest import free_port


async def arrived(shown: list[str], count: int, seconds: float = 30) -> list[str]:
    """Wait until `count` lines were shown (the listener prints them as the gateway hands them over)."""
    for _ in range(int(seconds / 0.05)):
        if len(shown) >= count:
            return shown
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {shown!r} arrived")


@pytest.fixture
async def gateway():
    gw = Gateway("shortcode", "k", secret="console-secret")
    server = TestServer(make_gateway_app(gw), host="127.0.0.1")
    await server.start_server()
    yield gw, f"http://127.0.0.1:{server.port}"
    await server.close()


async def test_sms_mode_goes_through_the_gateway(gateway, settings_with, serve, db):
    gw, gateway_url = gateway
    web = await serve(settings_with(sms_secrets="console-secret", sms_gateway_url=gateway_url, sms_api_key="k",
                                    jobs_inprocess_worker="true", jobs_queue=f"console{free_port()}"))
    gw.inbound_url, gw.callback_url = f"{web}/sms/inbound", f"{web}/sms/dlr"
    shown: list[str] = []
    async with ClientSession() as http:
        console = SmsConsole(http, gateway_url, "+8613800000011", "12580", out=shown.append, every_s=0.05)
        await console.start()
        assert await console.line("GOLF")
        await arrived(shown, 1)
        assert await console.line("/as 13800000001")
        assert await console.line("积分")
        await arrived(shown, 3)
        assert not await console.line("/quit")
        await console.stop()
    golf, switched, points = shown
    assert golf.splitlines()[:2] == ["SMS from 12580", "Golf"] and "[SMS GSM-7" in golf and "segment(s)]" in golf
    assert switched == "now texting as +8613800000001"
    assert "积分" in points and "[SMS UCS-2" in points
    assert gw.submits == 2 and gw.accepted == 2


async def test_a_message_that_comes_later_unasked_is_shown_too(gateway):
    """A reminder or a late confirmation reaches the handset while the tester types nothing: it is shown,
    with what the network counts, and nothing the handset held before the tester picked it up is."""
    gw, gateway_url = gateway
    client = GatewayClient(gateway_url, "shortcode", "k")
    await asyncio.to_thread(client.send, ["+8613800000011"], "an old message", "r0", "12580")
    shown: list[str] = []
    async with ClientSession() as http:
        console = SmsConsole(http, gateway_url, "+8613800000011", "12580", out=shown.append, every_s=0.05)
        await console.start()
        reminder = "提醒：您预订的高尔夫球场明天早上六点半开球，请提前到达。" * 3
        await asyncio.to_thread(client.send, ["+8613800000011"], reminder, "r1", "12580")
        await asyncio.to_thread(client.send, ["+8613800000099"], "someone else's", "r2", "12580")
        await arrived(shown, 1)
        await asyncio.sleep(0.3)  # room for a wrong extra line to show up
        await console.stop()
    (only,) = shown
    assert only.splitlines()[1] == reminder and "[SMS UCS-2 84 units, 2 segment(s)]" in only


async def test_no_gateway_is_one_line_naming_the_setting_and_the_command():
    async with ClientSession() as http:
        console = SmsConsole(http, f"http://127.0.0.1:{free_port()}", "+8613800000011", "12580")
        with pytest.raises(GatewayDown) as caught:
            await console.start()
    message = str(caught.value)
    assert "[sms] gateway_url" in message and "`shortcode gateway`" in message and "\n" not in message


async def test_a_gateway_that_goes_away_is_reported_once_and_again_when_back(gateway):
    gw, gateway_url = gateway
    shown: list[str] = []
    async with ClientSession() as http:
        console = SmsConsole(http, gateway_url, "+8613800000011", "12580", out=shown.append, every_s=0.05)
        await console.start()
        console.gateway = f"http://127.0.0.1:{free_port()}"  # as if it stopped
        await console.poll()
        await console.poll()
        console.gateway = gateway_url
        await console.poll()
    assert len(shown) == 2 and "is not answering" in shown[0] and "answers again" in shown[1]
