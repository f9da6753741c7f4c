"""The webhooks refuse a number outside the numbering plan as the simulator does, with the same reason."""
from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import ClientSession

from integrations.smsgateway.signing import headers

REFUSED = "not a valid phone number for region CN"


async def test_the_ussd_webhook_refuses_a_short_number_it_once_took_for_a_chinese_one(settings, serve, db):
    """`12345` was accepted as +8612345 and answered "not a subscriber"; now a 400 names the reason."""
    base = await serve(settings)
    form = {"sessionId": "n1", "serviceCode": "*126#", "phoneNumber": "12345", "networkCode": "46000", "text": ""}
    async with ClientSession() as http:
        async with http.post(f"{base}/ussd/africastalking", params={"key": "test-secret"}, data=form) as r:
            assert (r.status, await r.text()) == (400, f"bad request: phoneNumber: {REFUSED}")


async def test_the_sms_webhook_refuses_the_same_number_with_the_same_reason(settings_with, serve, db):
    base = await serve(settings_with(sms_secrets="numbers-secret"))
    body = urlencode({"id": "ATInbound_9", "from": "+8612345", "to": "12580", "text": "GOLF",
                      "date": "2026-11-23", "linkId": "l9", "networkCode": "46000"}).encode()
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **headers("numbers-secret", body)}
    async with ClientSession() as http:
        async with http.post(f"{base}/sms/inbound", data=body, headers=hdrs) as r:
            assert r.status == 400 and REFUSED in await r.text()
