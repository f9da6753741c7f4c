"""Admission: past [http] max_in_flight requests at once, a webhook gets 429 at once, health never."""
from __future__ import annotations

import asyncio

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bot.web import admission


async def test_requests_past_the_limit_get_429_and_health_gets_through():
    release = asyncio.Event()

    async def slow(request):
        await release.wait()
        return web.Response(text="CON done")

    async def health(request):
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[admission(2)])
    app.router.add_post("/ussd/africastalking", slow)
    app.router.add_get("/healthz", health)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession() as http:
        held = [asyncio.create_task(http.post(base + "/ussd/africastalking")) for _ in range(2)]
        await asyncio.sleep(0.2)
        async with http.post(base + "/ussd/africastalking") as r:
            assert r.status == 429 and r.headers["Retry-After"] == "1" and "overloaded" in await r.text()
        async with http.get(base + "/healthz") as r:
            assert r.status == 200
        release.set()
        assert [(await t).status for t in held] == [200, 200]
        async with http.post(base + "/ussd/africastalking") as r:
            assert r.status == 200  # the slots came back
    await server.close()
