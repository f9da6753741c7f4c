"""`shortcode sim --sms`: the tester's handset texts through the simulated gateway and sees the replies."""
from __future__ import annotations

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.channels.sms_console import SmsConsole
from integrations.smsgateway.simulator import Gateway, make_gateway_app


async def test_sms_mode_goes_through_the_gateway(settings_with, serve, db):
    gw = Gateway("shortcode", "k", secret="console-secret")
    server = TestServer(make_gateway_app(gw), host="127.0.0.1")
    await server.start_server()
    gateway_url = f"http://127.0.0.1:{server.port}"
    web = await serve(settings_with(sms_secrets="console-secret", sms_gateway_url=gateway_url, sms_api_key="k",
                                    jobs_inprocess_worker="true", jobs_queue=f"console{server.port}"))
    gw.inbound_url, gw.callback_url = f"{web}/sms/inbound", f"{web}/sms/dlr"
    shown: list[str] = []
    async with ClientSession() as http:
        console = SmsConsole(http, gateway_url, "+8613800000011", "12580", out=shown.append)
        assert await console.line("GOLF")
        assert await console.line("/as 13800000001")
        assert await console.line("积分")
        assert not await console.line("/quit")
    await server.close()
    golf, switched, points = shown
    assert golf.splitlines()[1] == "Golf" and "[SMS GSM-7" in golf and "segment(s)]" in golf
    assert switched == "now texting as +8613800000001"
    assert "积分" in points and "[SMS UCS-2" in points
    assert gw.submits == 2 and gw.accepted == 2
