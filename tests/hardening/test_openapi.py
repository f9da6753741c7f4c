"""docs/openapi.yaml is accurate: its routes are the app's routes, its required fields and maximum lengths
are what the handlers enforce, and every status (and body shape) the running app answers is declared.

Everything goes over real HTTP on loopback against a real redis-server and a seeded SQLite database."""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession

from bot.web import make_app
from bot.wiring import build_core
from integrations.smsgateway import signing

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOC = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
MSISDN = "+8613800000001"
USSD_KEY = "test-secret"
SMS_SECRET = "openapi-secret"
FORM_CT = "application/x-www-form-urlencoded"
POSTS = ["/ussd/africastalking", "/ussd/africastalking/end", "/sms/inbound", "/sms/dlr"]
_ids = itertools.count(1)


# -- reading the document -------------------------------------------------------------------------
def resolve(node):
    """Follow local `$ref`s ("#/components/...")."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = DOC
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def operation(path: str, method: str) -> dict:
    return DOC["paths"][path][method.lower()]


def form_schema(path: str) -> dict:
    return resolve(operation(path, "post")["requestBody"]["content"][FORM_CT]["schema"])


def declared(path: str, method: str, status: int) -> dict | None:
    found = operation(path, method)["responses"].get(str(status))
    return resolve(found) if found is not None else None


def check_against_schema(schema: dict, value) -> None:
    """The few JSON Schema keywords the document uses: type, enum, const, pattern, required, properties."""
    schema = resolve(schema)
    if "enum" in schema:
        assert value in schema["enum"], (value, schema["enum"])
    if "const" in schema:
        assert value == schema["const"], (value, schema["const"])
    if schema.get("type") == "string":
        assert isinstance(value, str)
        if "pattern" in schema:
            assert re.search(schema["pattern"], value), (value, schema["pattern"])
    if schema.get("type") == "object":
        assert isinstance(value, dict)
        for name in schema.get("required", []):
            assert name in value, (name, value)
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check_against_schema(sub, value[name])


def assert_declared(path: str, method: str, status: int, content_type: str, body: str, headers=None) -> None:
    """The status is declared for the operation, with this media type, and the body fits its schema."""
    response = declared(path, method, status)
    assert response is not None, f"{method} {path} answered {status}, which docs/openapi.yaml does not declare"
    content = response.get("content")
    if content:
        assert content_type in content, (path, status, content_type, list(content))
        schema = content[content_type].get("schema", {})
        check_against_schema(schema, json.loads(body) if content_type == "application/json" else body)
    for name, spec in (response.get("headers") or {}).items():
        assert headers is not None and name in headers, (path, status, name)
        check_against_schema(spec["schema"], int(headers[name]) if spec["schema"].get("type") == "integer"
                             else headers[name])


# -- talking to the app ---------------------------------------------------------------------------
def valid_form(path: str) -> dict[str, str]:
    """A form each endpoint accepts with a 200; ids are fresh on every call."""
    n = next(_ids)
    return {
        "/ussd/africastalking": {"sessionId": f"oa-{n}", "serviceCode": "*126#", "phoneNumber": MSISDN,
                                 "networkCode": "46000", "text": ""},
        "/ussd/africastalking/end": {"sessionId": f"oa-end-{n}", "serviceCode": "*126#", "phoneNumber": MSISDN,
                                     "networkCode": "46000", "status": "Success", "durationInMillis": "5230",
                                     "hopsCount": "3", "input": "1*2", "errorMessage": ""},
        "/sms/inbound": {"id": f"oa-in-{n}", "from": MSISDN, "to": "12580", "text": "hello",
                         "date": "2026-11-23 10:00:00", "linkId": "l1", "networkCode": "46000"},
        "/sms/dlr": {"id": f"oa-dlr-{n}", "status": "Sent", "phoneNumber": MSISDN, "networkCode": "46000",
                     "failureReason": "", "retryCount": "0"},
    }[path]


class Client:
    def __init__(self, base: str, http: ClientSession) -> None:
        self.base = base
        self.http = http

    async def post(self, path: str, body: bytes | dict, auth: bool = True, content_type: str = FORM_CT,
                   extra: dict | None = None):
        if isinstance(body, dict):
            body = urlencode(body).encode()
        headers = {"Content-Type": content_type, **(extra or {})}
        params = {}
        if auth and path.startswith("/ussd/"):
            params["key"] = USSD_KEY
        if auth and path.startswith("/sms/"):
            headers.update(signing.headers(SMS_SECRET, body))
        async with self.http.post(self.base + path, data=body, params=params, headers=headers) as r:
            return r.status, r.content_type, await r.text(), r.headers

    async def checked(self, path: str, body: bytes | dict, **kw):
        status, ctype, text, headers = await self.post(path, body, **kw)
        assert status < 500, (path, status, text)
        assert_declared(path, "post", status, ctype, text, headers)
        return status, text


@pytest.fixture
async def client(serve, settings_with, db):
    base = await serve(settings_with(sms_secrets=SMS_SECRET))
    async with ClientSession() as http:
        yield Client(base, http)


# -- (a) routes -----------------------------------------------------------------------------------
def test_documented_routes_are_exactly_the_registered_routes(settings_with):
    app = make_app(build_core(settings_with(telegram_enabled="true")))  # every route, Telegram's included
    registered = {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(method.upper(), path) for path, item in DOC["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete", "head", "options")}
    assert documented == registered


def test_document_is_openapi_3_1_and_every_post_declares_its_failures():
    assert str(DOC["openapi"]).startswith("3.1")
    for path in POSTS:
        op = operation(path, "post")
        assert set(op["responses"]) >= {"200", "400", "403", "413", "429"}, path
        assert op["security"], path
        schema = form_schema(path)
        assert schema["required"] and all(name in schema["properties"] for name in schema["required"])


def test_security_schemes_name_what_the_code_reads():
    schemes = DOC["components"]["securitySchemes"]
    assert (schemes["ussdKeyQuery"]["in"], schemes["ussdKeyQuery"]["name"]) == ("query", "key")
    assert (schemes["ussdKeyHeader"]["in"], schemes["ussdKeyHeader"]["name"]) == ("header", "X-Shortcode-Key")
    assert schemes["smsTimestamp"]["name"] == signing.TIMESTAMP
    assert schemes["smsSignature"]["name"] == signing.SIGNATURE
    for path in POSTS:
        wanted = ([{"ussdKeyQuery": []}, {"ussdKeyHeader": []}] if path.startswith("/ussd/")
                  else [{"smsTimestamp": [], "smsSignature": []}])
        assert operation(path, "post")["security"] == wanted


# -- (b) required fields and maximum lengths -------------------------------------------------------
REQUIRED = [(path, name) for path in POSTS for name in form_schema(path)["required"]]
LIMITED = [(path, name, spec["maxLength"]) for path in POSTS
           for name, spec in form_schema(path)["properties"].items() if "maxLength" in spec]


def test_every_field_with_a_limit_in_the_code_is_documented_with_it():
    """The limits the handlers pass to `field(...)` (bot/channels/ussd.py, sms.py), spelled out here so a
    changed limit in either place fails this test."""
    assert sorted(LIMITED) == sorted([
        ("/ussd/africastalking", "sessionId", 128), ("/ussd/africastalking", "serviceCode", 32),
        ("/ussd/africastalking", "phoneNumber", 32), ("/ussd/africastalking", "text", 1000),
        ("/ussd/africastalking/end", "sessionId", 128), ("/ussd/africastalking/end", "phoneNumber", 32),
        ("/ussd/africastalking/end", "serviceCode", 32), ("/ussd/africastalking/end", "status", 32),
        ("/ussd/africastalking/end", "durationInMillis", 16), ("/ussd/africastalking/end", "hopsCount", 16),
        ("/ussd/africastalking/end", "input", 512), ("/ussd/africastalking/end", "errorMessage", 512),
        ("/sms/inbound", "id", 64), ("/sms/inbound", "from", 32), ("/sms/inbound", "to", 16),
        ("/sms/inbound", "text", 1600),
        ("/sms/dlr", "id", 64), ("/sms/dlr", "status", 12),
    ])


async def test_each_documented_required_field_is_required(client):
    for path, name in REQUIRED:
        form = valid_form(path)
        del form[name]
        status, text = await client.checked(path, form)
        assert status == 400 and f"missing field '{name}'" in text, (path, name, status, text)


async def test_documented_optional_fields_may_be_omitted(client):
    for path in POSTS:
        schema = form_schema(path)
        form = {k: v for k, v in valid_form(path).items() if k in schema["required"]}
        status, text = await client.checked(path, form)
        assert status == 200, (path, form, text)


async def test_each_documented_max_length_is_enforced_and_not_tighter(client):
    for path, name, limit in LIMITED:
        status, text = await client.checked(path, {**valid_form(path), name: "1" * (limit + 1)})
        assert status == 400 and f"field '{name}' is longer than {limit} characters" in text, (path, name, text)
        status, text = await client.checked(path, {**valid_form(path), name: "1" * limit})
        assert "longer than" not in text, (path, name, status, text)


async def test_max_lengths_count_characters_not_bytes(client):
    """maxLength is in characters, as JSON Schema says: 1,000 / 1,600 three-byte characters fit."""
    status, text = await client.checked("/ussd/africastalking", {**valid_form("/ussd/africastalking"),
                                                                 "text": "界" * 1000})
    assert status == 200 and text.startswith("CON ")
    status, text = await client.checked("/sms/inbound", {**valid_form("/sms/inbound"), "text": "界" * 1600})
    assert (status, text) == (200, "OK")


async def test_documented_enum_of_delivery_statuses_is_what_the_code_accepts(client):
    statuses = form_schema("/sms/dlr")["properties"]["status"]["enum"]
    for status_value in statuses:
        status, _ = await client.checked("/sms/dlr", {**valid_form("/sms/dlr"), "status": status_value})
        assert status == 200, status_value
    status, text = await client.checked("/sms/dlr", {**valid_form("/sms/dlr"), "status": "Delivered"})
    assert status == 400 and "unknown status" in text


# -- (c) every status the app answers is declared --------------------------------------------------
async def test_normal_use_answers_are_declared(client):
    for path in POSTS:
        form = valid_form(path)
        assert (await client.checked(path, form))[0] == 200
        if path in ("/ussd/africastalking/end", "/sms/inbound"):
            assert await client.checked(path, form) == (200, "OK (duplicate)")
        assert (await client.checked(path, valid_form(path), auth=False))[0] == 403
        status, _ = await client.checked(path, b'{"sessionId": "x"}', content_type="application/json")
        assert status == 400


async def test_both_documented_ussd_key_locations_work(client):
    for path in POSTS[:2]:
        status, _ = await client.checked(path, valid_form(path), auth=False, extra={"X-Shortcode-Key": USSD_KEY})
        assert status == 200
        status, _ = await client.checked(path, valid_form(path), auth=False, extra={"X-Shortcode-Key": "wrong"})
        assert status == 403


async def test_wrong_or_stale_sms_signature_is_a_declared_403(client):
    for path in POSTS[2:]:
        body = urlencode(valid_form(path)).encode()
        for hdrs in (signing.headers("wrong", body), signing.headers(SMS_SECRET, body, now=0)):
            status, _ = await client.checked(path, body, auth=False, extra=hdrs)
            assert status == 403


@pytest.mark.parametrize("path", POSTS)
async def test_body_limit_is_max_body_bytes_inclusive(client, settings, path):
    """Exactly [http] max_body_bytes is read; one byte more is a declared 413."""
    limit = settings.http.max_body_bytes
    base = urlencode(valid_form(path)).encode() + b"&pad="
    exact = base + b"a" * (limit - len(base))
    assert len(exact) == limit
    assert (await client.checked(path, exact))[0] == 200
    over = urlencode(valid_form(path)).encode() + b"&pad="
    over += b"a" * (limit + 1 - len(over))
    assert (await client.checked(path, over))[0] == 413


async def _raw_request(port: int, head: bytes):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    return reader, writer


async def test_overload_answers_are_declared_and_health_gets_through(serve, settings_with, db):
    """[http] max_in_flight = 1: a request whose body is still arriving holds the only slot."""
    base = await serve(settings_with(sms_secrets=SMS_SECRET, http_max_in_flight=1))
    port = int(base.rsplit(":", 1)[1])
    body = urlencode(valid_form("/ussd/africastalking")).encode()
    reader, writer = await _raw_request(port, (
        f"POST /ussd/africastalking?key={USSD_KEY} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Content-Type: {FORM_CT}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body[:5])
    try:
        async with ClientSession() as http:
            client = Client(base, http)
            for _ in range(100):  # until the held request is inside the handler
                status, ctype, text, headers = await client.post("/sms/dlr", valid_form("/sms/dlr"))
                if status == 429:
                    break
                await asyncio.sleep(0.02)
            for path in POSTS:
                status, ctype, text, headers = await client.post(path, valid_form(path))
                assert status == 429, (path, status, text)
                assert_declared(path, "post", status, ctype, text, headers)
            async with http.get(base + "/healthz") as r:
                assert r.status == 200
                assert_declared("/healthz", "get", r.status, r.content_type, await r.text())
        writer.write(body[5:])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.startswith(b"HTTP/1.1 200") and b"\r\n\r\nCON " in answer
    finally:
        writer.close()


async def test_health_answers_are_declared(client, serve, settings_with, db):
    """Alive whatever Redis does; ready only with it, and each answer as the document declares it."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    down = await serve(settings_with(redis_url=f"redis://127.0.0.1:{dead}/0"))
    for base, path, status in ((client.base, "/healthz", 200), (client.base, "/readyz", 200),
                               (down, "/healthz", 200), (down, "/readyz", 503)):
        async with client.http.get(base + path) as r:
            assert r.status == status, (base, path)
            assert_declared(path, "get", r.status, r.content_type, await r.text())


async def test_metrics_answers_are_declared(client, serve, settings_with, db):
    guarded = await serve(settings_with(metrics_token="scrape-token"))
    for base, headers, status in ((client.base, {}, 200), (client.base, {"X-Forwarded-For": "203.0.113.9"}, 403),
                                  (guarded, {}, 401), (guarded, {"Authorization": "Bearer scrape-token"}, 200)):
        async with client.http.get(base + "/metrics", headers=headers) as r:
            assert r.status == status, (base, headers)
            assert_declared("/metrics", "get", r.status, r.content_type, await r.text(), r.headers)