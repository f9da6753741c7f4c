"""Handlers for who is calling, the agents, and the audit log (read only: no route changes or deletes an
audit row, and the database refuses it anyway)."""
from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from bot.admin import agents, passwords
from bot.admin.http import Call, Refused, answer, body
from bot.admin.idempotency import idempotent
from jobs import audit

AUDIT_LIMIT = 1000
SETS_OTHERS = "admin"  # the role that manages agents (POST /admin/agents)


async def whoami(call: Call) -> web.Response:
    a = call.actor
    return answer({"name": a.name, "role": a.role, "source": a.source})


async def list_agents(call: Call) -> web.Response:
    rows = await asyncio.to_thread(agents.listing, call.state.db)
    return answer({"agents": [r.as_dict() for r in rows]})


class NewAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    role: str


@idempotent
async def add_agent(call: Call) -> web.Response:
    """201 with the new agent's token: the only time anyone sees it."""
    new = await body(call, NewAgent)
    try:
        agents.check_name(new.name), agents.check_role(new.role)
        token = await asyncio.to_thread(agents.add, call.state.db, call.actor, new.name, new.role, call.state.clock())
    except agents.AgentError as exc:
        raise Refused(409 if isinstance(exc, agents.AgentExists) else 422, str(exc)) from None
    return answer({"name": new.name, "role": new.role, "token": token}, status=201)


async def revoke_agent(call: Call) -> web.Response:
    name = call.request.match_info["name"]
    try:
        tokens = await asyncio.to_thread(agents.revoke, call.state.db, call.actor, name, call.state.clock())
    except agents.AgentError as exc:
        raise Refused(404, str(exc)) from None
    return answer({"name": name, "revoked": True, "tokens_revoked": tokens})


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str


async def set_password(call: Call) -> web.Response:
    """An admin sets anyone's password, any other agent only their own (the route admits every role). Not
    idempotent-keyed: the stored request would hold a digest of the password."""
    name = call.request.match_info["name"]
    if call.actor.name != name and not call.actor.at_least(SETS_OTHERS):
        raise Refused(403, f"only an {SETS_OTHERS} sets another agent's password", "forbidden")
    new = await body(call, NewPassword)
    try:
        await asyncio.to_thread(passwords.set_password, call.state.db, call.actor, name, new.password,
                                call.state.clock())
    except agents.AgentError as exc:
        raise Refused(422 if isinstance(exc, passwords.BadPassword) else 404, str(exc)) from None
    return answer({"name": name, "password_set": True})


def _int(call: Call, name: str, default: int, low: int, high: int) -> int:
    raw = call.request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Refused(400, f"query '{name}' must be a whole number from {low} to {high}")
    return int(raw)


async def audit_log(call: Call) -> web.Response:
    """The audit log in order, a page at a time: pass the last id as `after` for the next page."""
    target = call.request.query.get("target")
    if target is not None and not 1 <= len(target) <= 96:
        raise Refused(400, "query 'target' must be 1-96 characters")
    after = _int(call, "after", 0, 0, 2**62)
    limit = _int(call, "limit", 100, 1, AUDIT_LIMIT)
    rows = await asyncio.to_thread(lambda: list(audit.read(call.state.db, target, after, limit)))
    entries = [{**r, "at": agents.iso(r["at"])} for r in rows]
    return answer({"entries": entries, "next_after": entries[-1]["id"] if entries else after})
