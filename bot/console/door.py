"""The console's door and headers: no /console/ path but the sign-in page is reached without a session
(redirect to it), every POST carries its CSRF token (else 403), and every console answer carries a strict
Content-Security-Policy, X-Frame-Options DENY and Referrer-Policy no-referrer."""
from __future__ import annotations

import asyncio
from dataclasses import replace

from aiohttp import web

from bot.admin import agents
from bot.admin.http import ADMIN
from bot.console import csrf, session

PREFIX = "/console/"
LOGIN = "/console/login"
SESSION = web.RequestKey("console_session", session.Session)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
           "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def is_console(path: str) -> bool:
    return (path + "/").startswith(PREFIX)


@web.middleware
async def console_door(request: web.Request, handler):
    if not is_console(request.path):
        return await handler(request)
    if request.path == LOGIN:
        if request.method == "POST" and not await csrf.login_ok(request):
            return csrf.forbidden(request)
        return await handler(request)
    found = await current(request)
    if found is None:
        return web.Response(status=303, headers={"Location": LOGIN})
    if request.method == "POST" and not await csrf.session_ok(request, found):
        return csrf.forbidden(request)
    request[SESSION] = found
    return await handler(request)


async def current(request: web.Request) -> session.Session | None:
    """The request's session while its agent and token are still active, with the agent's role as it is now;
    a session whose agent or token was revoked is dropped."""
    found = await session.load(request)
    if found is None:
        return None
    agent, _ = await asyncio.to_thread(agents.holder_of_digest, request.app[ADMIN].db, found.token_sha256)
    if agent is None or agent.name != found.agent:
        await session.drop(request, found)
        return None
    return replace(found, role=agent.role)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every console answer, redirects and errors included (an `on_response_prepare` signal)."""
    if is_console(request.path):
        response.headers.update(HEADERS)
