"""The SMS inbound webhook over real HTTP: signed, stored before the 200, once per message id."""
from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
from sqlmodel import Session as DbSession, select

from bot.models import SmsInbox
from integrations.smsgateway.signing import headers

FORM = {"id": "ATInbound_1", "from": "+8613800000001", "to": "12580", "text": "GOLF", "date": "2026-11-23",
        "linkId": "l1", "networkCode": "46000"}
FORM_CT = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def base(settings_with, serve, db):
    return await serve(settings_with(sms_secrets="new-secret, old-secret")) + "/sms/inbound"


def rows(db):
    with DbSession(db) as s:
        return s.exec(select(SmsInbox)).all()


async def deliver(url, body: bytes, secret="new-secret", now=None, extra=None):
    async with ClientSession() as http:
        hdrs = {**FORM_CT, **headers(secret, body, now), **(extra or {})}
        async with http.post(url, data=body, headers=hdrs) as r:
            return r.status, await r.text()


async def test_signed_message_is_stored_before_the_200(base, db):
    status, text = await deliver(base, urlencode(FORM).encode())
    assert (status, text) == (200, "OK")
    (row,) = rows(db)
    assert (row.message_id, row.msisdn, row.short_code, row.text) == ("ATInbound_1", "+8613800000001", "12580", "GOLF")


async def test_old_secret_works_during_rotation(base, db):
    assert (await deliver(base, urlencode(FORM).encode(), secret="old-secret"))[0] == 200


async def test_same_message_delivered_ten_times_at_once_is_stored_once(base, db):
    body = urlencode(FORM).encode()
    results = await asyncio.gather(*[deliver(base, body) for _ in range(10)])
    assert all(status == 200 for status, _ in results)
    assert sum(text == "OK" for _, text in results) == 1 and len(rows(db)) == 1


@pytest.mark.parametrize("secret,age", [("wrong", 0), ("new-secret", 301), ("new-secret", -301)])
async def test_bad_or_stale_signature_is_403_and_writes_nothing(base, db, secret, age):
    status, text = await deliver(base, urlencode(FORM).encode(), secret=secret, now=time.time() - age)
    assert status == 403 and "signature" in text and rows(db) == []


async def test_body_changed_after_signing_is_refused(base, db):
    body = urlencode(FORM).encode()
    async with ClientSession() as http:
        hdrs = {**FORM_CT, **headers("new-secret", body)}
        async with http.post(base, data=body.replace(b"GOLF", b"STOP"), headers=hdrs) as r:
            assert r.status == 403
    assert rows(db) == []


@pytest.mark.parametrize("body,reason", [
    (urlencode({k: v for k, v in FORM.items() if k != "id"}).encode(), "missing field 'id'"),
    (urlencode({**FORM, "from": "hello"}).encode(), "from:"),
    (urlencode({**FORM, "text": "x" * 1601}).encode(), "longer than 1600"),
    (b"id=1&from=%FF%FE&to=1&text=x", "unreadable form"),
    (urlencode({**FORM, "text": "a\x00b"}).encode(), "NUL"),
    (urlencode(FORM).encode() + b"&id=again", "appears twice"),
])
async def test_malformed_message_gets_400_with_a_reason(base, db, body, reason):
    status, text = await deliver(base, body)
    assert status == 400 and reason in text and rows(db) == []


async def test_oversized_body_gets_413(base, db):
    body = urlencode({**FORM, "text": "x" * 20_000}).encode()
    assert (await deliver(base, body))[0] == 413 and rows(db) == []
