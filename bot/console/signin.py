"""Signing in to the console: the agent's name with their password or one of their tokens (the password is
tried first), and failures counted in Redis per agent name and per address: 10 in 15 minutes and further
tries are refused (429) until the window ends. The typed name is counted only as a digest (it could be a
number)."""
from __future__ import annotations

import asyncio
import hashlib

from aiohttp import web
from sqlalchemy.engine import Engine

from bot.admin import agents, passwords
from bot.admin.agents import AgentRow
from bot.admin.http import ADMIN

FAILURES, WINDOW_SECONDS = 10, 15 * 60
KEY = "console:signin:failed:"  # after the deployment's `[redis] prefix`


def _keys(request: web.Request, name: str) -> tuple[str, str]:
    start = request.app[ADMIN].core.settings.redis.prefix + KEY
    return start + "agent:" + hashlib.sha256(name.encode()).hexdigest(), start + "ip:" + (request.remote or "?")


def _redis(request: web.Request):
    from bot.web import REDIS  # bot.web installs the console: imported late to avoid the cycle

    return request.app[REDIS].aio


async def limited(request: web.Request, name: str) -> bool:
    """Whether this name or this address has failed too often in the window."""
    counts = await _redis(request).mget(_keys(request, name))
    return any(int(c or 0) >= FAILURES for c in counts)


async def failed(request: web.Request, name: str) -> None:
    """Count one failure against the name and the address; the window starts at the first failure."""
    pipe = _redis(request).pipeline()
    for key in _keys(request, name):
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS, nx=True)
    await pipe.execute()


async def succeeded(request: web.Request, name: str) -> None:
    """The agent's own count starts again; the address' stays (one address trying many names)."""
    await _redis(request).delete(_keys(request, name)[0])


def check(engine: Engine, name: str, secret: str) -> tuple[AgentRow | None, str]:
    """(the agent, what their session keeps: the password's mark or the token's digest), or (None, "")."""
    found, kept = passwords.holder(engine, name, secret)
    if found is None:
        found, _ = agents.holder(engine, secret)
        kept = agents.digest(secret)
    return (found, kept) if found is not None and found.name == name else (None, "")


async def holder_now(request: web.Request, name: str, kept: str) -> AgentRow | None:
    """The session's agent as they are now, while the password or token it was opened with still holds."""
    db = request.app[ADMIN].db
    if kept.startswith("pw:"):
        return await asyncio.to_thread(passwords.holder_of_mark, db, name, kept)
    found, _ = await asyncio.to_thread(agents.holder_of_digest, db, kept)
    return found if found is not None and found.name == name else None
