"""The same-run baseline for the gateway's bulk submit: a bare aiohttp handler that reads the same JSON and
answers the same shape, one recipient entry per message, with no logic (no number check, no segment count,
no idempotency, nothing kept). Run: python bench/baseline_gateway.py PORT"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.smsgateway import BULK_PATH

IDS = itertools.count(1)


async def bulk(request: web.Request) -> web.Response:
    data = await request.json()
    return web.json_response({"SMSMessageData": {"Recipients": [
        {"statusCode": 101, "number": m["to"], "status": "Sent", "cost": "CNY 0.0500",
         "messageId": f"ATXid_{next(IDS):08d}", "segments": 1, "encoding": "GSM-7",
         "clientReference": m["clientReference"]} for m in data["messages"]]}})


def main() -> None:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post(BULK_PATH, bulk)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
