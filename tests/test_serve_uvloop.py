"""`[http] uvloop = true`: the web process runs on uvloop and answers a USSD hop as on asyncio's loop."""
from __future__ import annotations

import aiohttp

from tests.processes import Stack, wait_http


async def test_serve_on_uvloop_answers_a_hop(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url, SHORTCODE_HTTP_UVLOOP="true", SHORTCODE_LOG_LEVEL="info",
                  SHORTCODE_USSD_SECRET="test-secret")
    stack.run("db", "upgrade")
    stack.run("seed", "--demo", "--subscribers", "5")
    stack.start("web", "serve")
    try:
        await wait_http(stack.web + "/healthz")
        form = {"sessionId": "uv1", "serviceCode": "*126#", "phoneNumber": "+8613800000001",
                "networkCode": "46000", "text": ""}
        async with aiohttp.ClientSession() as http:
            async with http.post(stack.web + "/ussd/africastalking?key=test-secret", data=form) as r:
                body = await r.text()
        assert r.status == 200 and body.startswith("CON "), body
    finally:
        stack.stop()
    assert '"event_loop": "uvloop"' in stack.log("web")
