"""Idempotency-Key over real HTTP, on SQLite and PostgreSQL: a repeat replays, another body is 409, 20
concurrent requests with one key run the work once, and a failure is not kept."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.admin import agents
from bot.admin.http import Call, answer
from bot.admin.idempotency import idempotent
from bot.admin.routes import Route, install
from bot.admin.tables import Agent
from bot.db import make_engine, upgrade
from bot.tools.seed import seed_demo
from bot.web import make_app
from bot.wiring import build_core
from jobs.audit import AuditLog
from jobs.tables import Outbox
from tests.bot.admin.conftest import NOW, OPERATOR, Api

CALLS: list[str] = []


@idempotent
async def flaky(call: Call) -> web.Response:
    """A test route: fails its first call (an exception, then a 503), works after."""
    CALLS.append(call.actor.name)
    if len(CALLS) == 1:
        raise RuntimeError("the first call fails")
    if len(CALLS) == 2:
        return answer({"error": "unavailable"}, status=503)
    await asyncio.sleep(0.05)
    return answer({"calls": len(CALLS)}, status=201)


@pytest.fixture
async def keyed(settings_with, sql_url):
    """The app on SQLite or PostgreSQL with the test route, an admin token, five subscribers."""
    upgrade(sql_url)
    db = make_engine(sql_url)
    seed_demo(db, 5)
    app = make_app(build_core(settings_with(database_url=sql_url)))
    install(app, [Route("POST", "/admin/test/flaky", "agent", flaky)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    CALLS.clear()
    async with ClientSession() as http:
        found = Api(f"http://127.0.0.1:{server.port}", http, db)
        found.tokens["admin"] = agents.add(db, OPERATOR, "admin1", "admin", NOW)
        yield found
    await server.close()
    db.dispose()


def count(api, table, *where) -> int:
    with api.db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def test_same_key_and_body_replays_the_first_answer(keyed):
    """The token of the first answer again, marked replayed; one agent, one audit row."""
    first = await keyed.call("POST", "/admin/agents", json={"name": "li.na", "role": "agent"},
                             headers={"Idempotency-Key": "k1"})
    again = await keyed.call("POST", "/admin/agents", json={"role": "agent", "name": "li.na"},
                             headers={"Idempotency-Key": "k1"})
    assert first[0] == again[0] == 201, (first, again)
    assert first[1] == again[1] and first[1]["token"].startswith("sc_")
    assert "Idempotent-Replayed" not in first[2] and again[2]["Idempotent-Replayed"] == "true"
    assert count(keyed, Agent, Agent.name == "li.na") == 1
    assert count(keyed, AuditLog, AuditLog.target == "agent:li.na") == 1


async def test_same_key_with_another_body_is_409_and_runs_nothing(keyed):
    await keyed.call("POST", "/admin/agents", json={"name": "a1", "role": "agent"}, headers={"Idempotency-Key": "k"})
    status, body, _ = await keyed.call("POST", "/admin/agents", json={"name": "a2", "role": "agent"},
                                       headers={"Idempotency-Key": "k"})
    assert status == 409 and "another request body" in body["reason"]
    assert count(keyed, Agent, Agent.name == "a2") == 0


@pytest.mark.parametrize("key", ["", "x" * 129, "tab\there", "中文"])
async def test_a_bad_key_is_400_and_runs_nothing(keyed, key):
    status, body, _ = await keyed.call("POST", "/admin/agents", json={"name": "b1", "role": "agent"},
                                       headers={"Idempotency-Key": key})
    assert status == 400 and "Idempotency-Key" in body["reason"]
    assert count(keyed, Agent, Agent.name == "b1") == 0


async def test_twenty_concurrent_requests_with_one_key_run_once_and_answer_alike(keyed):
    """One agent made, one audit row, one token, twenty identical answers."""
    answers = await asyncio.gather(*[
        keyed.call("POST", "/admin/agents", json={"name": "rush", "role": "viewer"},
                   headers={"Idempotency-Key": "one-key"}) for _ in range(20)])
    assert {(s, b["token"]) for s, b, _ in answers} == {(201, answers[0][1]["token"])}
    assert count(keyed, AuditLog, AuditLog.target == "agent:rush") == 1


async def test_twenty_concurrent_care_messages_with_one_key_write_one_message(keyed):
    body = {"text": {"zh_Hans": "您好，这是客服的关怀短信。", "en": "Hello from customer care."}}
    answers = await asyncio.gather(*[
        keyed.call("POST", "/admin/subscribers/13800000002/messages", json=body,
                   headers={"Idempotency-Key": "care-1"}) for _ in range(20)])
    assert {(s, str(b)) for s, b, _ in answers} == {(202, str(answers[0][1]))}
    assert count(keyed, Outbox, Outbox.msisdn == "+8613800000002") == 1


async def test_a_failure_is_not_kept_so_a_retry_runs_and_is_then_replayed(keyed):
    """An exception (500) and a 503 free the key; the third try works and is the answer from then on."""
    statuses = [(await keyed.call("POST", "/admin/test/flaky", json={}, headers={"Idempotency-Key": "f"}))[0]
                for _ in range(4)]
    assert statuses == [500, 503, 201, 201] and len(CALLS) == 3
