"""CSRF tokens: a signed-in form carries its session's token; the sign-in form, before any session, carries
a random token also set in an HttpOnly cookie (double submit). Any console POST without a match is 403."""
from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from bot.console.session import Session, set_cookie

FIELD = "csrf"
LOGIN_COOKIE = "sc_console_login"


async def posted(request: web.Request) -> str:
    form = await request.post()
    value = form.get(FIELD, "")
    return value if isinstance(value, str) else ""


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


async def session_ok(request: web.Request, session: Session) -> bool:
    return same(await posted(request), session.csrf)


async def login_ok(request: web.Request) -> bool:
    return same(await posted(request), request.cookies.get(LOGIN_COOKIE, ""))


def login_token(request: web.Request) -> str:
    """The sign-in form's token: the browser's, or a fresh one (`keep_login_token` sets it)."""
    held = request.cookies.get(LOGIN_COOKIE, "")
    return held if 20 <= len(held) <= 100 else secrets.token_urlsafe(32)


def keep_login_token(request: web.Request, response: web.StreamResponse, token: str) -> None:
    set_cookie(request, response, LOGIN_COOKIE, token, 3600)


def forbidden(request: web.Request) -> web.Response:
    return web.Response(status=403, text="403: missing or wrong CSRF token", content_type="text/plain")
