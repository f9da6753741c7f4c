"""The same-run baseline for the USSD turn: a bare aiohttp handler that parses the same Africa's Talking
form and does one Redis GET and one SET of a 500-byte JSON session. Nothing else: no lock, no engine,
no database, no logs. Run: python bench/baseline_app.py PORT REDIS_URL [--uvloop]"""
from __future__ import annotations

import json
import sys

import redis.asyncio as aredis
from aiohttp import web

PAD = "x" * 380  # brings the stored JSON to ~500 bytes, the size the brief names


async def hop(request: web.Request) -> web.Response:
    form = await request.post()
    if request.query.get("key") != "bench-secret":  # bench.common.USSD_KEY
        return web.Response(status=403)
    session_id, text = str(form["sessionId"]), str(form.get("text", ""))
    redis = request.app[REDIS]
    raw = await redis.get("bl:" + session_id)
    session = json.loads(raw) if raw else {"m": str(form["phoneNumber"]), "f": "golf", "s": "slot", "p": PAD}
    session["t"] = text[-40:]
    session["h"] = text.count("*")
    await redis.set("bl:" + session_id, json.dumps(session), ex=600)
    return web.Response(text="CON Tee times Nov 25\n1. 06:30\n2. 06:38\n98 More\n0 Back 00 Home")


REDIS = web.AppKey("redis", aredis.Redis)


def main() -> None:
    port, url = int(sys.argv[1]), sys.argv[2]
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    app = web.Application()

    async def connect(app: web.Application):
        pool = aredis.ConnectionPool.from_url(url, max_connections=600)  # the same pool Shortcode uses
        app[REDIS] = aredis.Redis(connection_pool=pool)
        yield
        await app[REDIS].aclose()

    app.cleanup_ctx.append(connect)
    app.router.add_post("/ussd/africastalking", hop)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
