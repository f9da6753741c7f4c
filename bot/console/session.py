"""Server-side console sessions in Redis: a random id in the `sc_console` cookie; the agent, the digest of the
token they signed in with or the mark of their password (`bot.admin.passwords.mark`), checked again on every
request (revoking the agent or the token, or a new password, ends the session), and the CSRF token, kept
under the id's SHA-256 (a Redis dump holds no usable cookie); 8 idle hours."""
from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from aiohttp import web

COOKIE = "sc_console"
IDLE_SECONDS = 8 * 3600
KEY = "console:session:"


@dataclass(frozen=True)
class Session:
    id: str
    agent: str
    role: str
    csrf: str
    token_sha256: str


def _key(session_id: str) -> str:
    return KEY + hashlib.sha256(session_id.encode()).hexdigest()


def _redis(app: web.Application):
    from bot.web import REDIS  # bot.web installs the console: imported late to avoid the cycle

    return app[REDIS].aio


async def create(app: web.Application, agent: str, role: str, token_sha256: str) -> Session:
    session = Session(secrets.token_urlsafe(32), agent, role, secrets.token_urlsafe(32), token_sha256)
    key = _key(session.id)
    await _redis(app).hset(key, mapping={"agent": agent, "role": role, "csrf": session.csrf,
                                         "token_sha256": token_sha256})
    await _redis(app).expire(key, IDLE_SECONDS)
    return session


async def load(request: web.Request) -> Session | None:
    """The request's session, its idle clock restarted; None without a cookie or once it expired."""
    session_id = request.cookies.get(COOKIE, "")
    if not session_id or len(session_id) > 100:
        return None
    key = _key(session_id)
    found = await _redis(request.app).hgetall(key)
    if not found:
        return None
    await _redis(request.app).expire(key, IDLE_SECONDS)
    text = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in found.items()}
    return Session(session_id, text["agent"], text["role"], text["csrf"], text["token_sha256"])


async def drop(request: web.Request, session: Session) -> None:
    await _redis(request.app).delete(_key(session.id))


def secure(request: web.Request) -> bool:
    """Secure cookies except on loopback (a developer's or a test's plain http://127.0.0.1)."""
    try:
        loopback = ipaddress.ip_address(request.host.rsplit(":", 1)[0].strip("[]")).is_loopback
    except ValueError:
        loopback = request.host.split(":")[0] == "localhost"
    return request.secure or not loopback


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/console/", httponly=True, samesite="Strict",
                        secure=secure(request))
