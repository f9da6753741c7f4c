"""Logs are JSON lines with channel, session and a masked number; never a full MSISDN or a body."""
from __future__ import annotations

import io
import json

import pytest
import structlog
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.logs import configure
from bot.web import make_app


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    configure("info", stream=stream)
    yield stream
    structlog.reset_defaults()


async def test_a_hop_logs_masked_number_with_context(core, db, log_stream):
    server = TestServer(make_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as http:
            for text in ("", "1", "1*secret-body-13900000000"):
                form = {"sessionId": "log1", "serviceCode": "*126#", "phoneNumber": "+8613800000001", "text": text}
                async with http.post(f"http://127.0.0.1:{server.port}/ussd/africastalking?key=test-secret",
                                     data=form) as r:
                    assert r.status == 200
    finally:
        await server.close()
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    rendered = [l for l in lines if l["event"] == "screen_rendered"]
    assert rendered and all(l["channel"] == "ussd" and l["session"] == "log1" for l in rendered)
    assert all(l["msisdn"] == "+86138****0001" for l in rendered)
    raw = log_stream.getvalue()
    assert "8613800000001" not in raw and "13900000000" not in raw and "secret-body" not in raw


def test_scrub_masks_numbers_in_free_text(log_stream):
    structlog.get_logger().info("oops", detail="caller +8613800000001 said hi")
    assert "+86138****0001" in log_stream.getvalue() and "8613800000001" not in log_stream.getvalue()


def test_standard_library_logs_are_masked_too():
    """RQ and aiohttp log through `logging`: their messages and tracebacks are masked like ours."""
    import io
    import logging

    import structlog

    from bot.logs import configure

    out = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:]
    configure("info", stream=out)
    try:
        try:
            raise ValueError("no such subscriber +8613800000001")
        except ValueError:
            logging.getLogger("rq.worker").exception("job failed for 8613800000002")
    finally:
        root.handlers[:] = saved
        structlog.reset_defaults()
    text = out.getvalue()
    assert "job failed" in text and "no such subscriber" in text
    assert "8613800000001" not in text and "8613800000002" not in text


def test_database_errors_never_carry_bound_values(tmp_path):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from bot.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (m TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:m)"), {"m": "+8613800000001"})
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:m)"), {"m": "+8613800000001"})
    except DBAPIError as exc:
        assert "UNIQUE" in str(exc) and "8613800000001" not in str(exc)
    else:
        raise AssertionError("the duplicate was accepted")
