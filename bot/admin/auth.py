"""The bearer-token door of /admin/*: a request without a valid token of an active agent gets 401 and goes
no further (no handler runs, nothing changes); other paths pass untouched. Past the door the agent is an
`Actor` (name, role, "http <peer ip>"), and a path or method not in the route table is a JSON 404/405."""
from __future__ import annotations

import asyncio

from aiohttp import web

from bot.admin import agents
from bot.admin.http import ADMIN, error
from jobs.audit import Actor

ACTOR = web.RequestKey("actor", Actor)
PREFIX = "/admin/"


def bearer(request: web.Request) -> tuple[str | None, str]:
    """The token of `Authorization: Bearer <token>`, or None and why not."""
    header = request.headers.get("Authorization")
    if header is None:
        return None, "missing bearer token (Authorization: Bearer <token>)"
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "Authorization must be 'Bearer <token>'"
    return token.strip(), ""


async def authenticate(request: web.Request) -> tuple[Actor | None, str]:
    token, why = bearer(request)
    if token is None:
        return None, why
    if len(token) > 200:
        return None, "unknown token"
    agent, why = await asyncio.to_thread(agents.holder, request.app[ADMIN].db, token)
    if agent is None:
        return None, why
    return Actor(agent.name, agent.role, f"http {request.remote or '?'}"), ""


@web.middleware
async def admin_door(request: web.Request, handler):
    if not (request.path + "/").startswith(PREFIX):
        return await handler(request)
    actor, why = await authenticate(request)
    if actor is None:
        return error(401, why)
    request[ACTOR] = actor
    missing = request.match_info.http_exception
    if isinstance(missing, web.HTTPMethodNotAllowed):
        return error(405, f"{request.method} is not allowed on {request.path[:100]}",
                     allowed=sorted(missing.allowed_methods))
    if missing is not None:
        return error(404, f"no admin route {request.method} {request.path[:100]}")
    return await handler(request)
