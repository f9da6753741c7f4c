"""Opaque handles for subscribers in console URLs: a random id kept in Redis under the console session
(8 idle hours, as the session), so no URL, history entry or log line holds a number or anything that turns
back into one, and a handle opens nothing in another session."""
from __future__ import annotations

import hashlib
import secrets

from aiohttp import web

from bot.console.session import IDLE_SECONDS, Session, _redis

KEY = "console:handles:"
SHAPE = 22  # characters of token_urlsafe(16)


def _key(session: Session) -> str:
    return KEY + hashlib.sha256(session.id.encode()).hexdigest()


async def make(request: web.Request, session: Session, msisdn: str) -> str:
    """A new handle for this number in this session."""
    handle = secrets.token_urlsafe(16)
    key = _key(session)
    await _redis(request.app).hset(key, handle, msisdn)
    await _redis(request.app).expire(key, IDLE_SECONDS)
    return handle


async def number(request: web.Request, session: Session, handle: str) -> str | None:
    """The number behind a handle of this session; None for anything else."""
    if len(handle) != SHAPE:
        return None
    found = await _redis(request.app).hget(_key(session), handle)
    if found is None:
        return None
    await _redis(request.app).expire(_key(session), IDLE_SECONDS)
    return found.decode() if isinstance(found, bytes) else found
