"""The console's door and headers: no /console/ path but the sign-in page and the static assets (a GET the
static resource matched) is reached without a session (redirect to the sign-in page), every POST carries its
CSRF token (else 403), and every console answer carries a strict Content-Security-Policy, X-Frame-Options
DENY and Referrer-Policy no-referrer (static assets may be cached; pages are no-store)."""
from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from bot.console import csrf, session, signin

PREFIX = "/console/"
LOGIN = "/console/login"
STATIC = "/console/static/"
STATIC_NAME = "console-static"
STATIC_CACHE = "public, max-age=3600"
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
    if is_static(request):
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


def is_static(request: web.Request) -> bool:
    """A GET the static resource itself matched (the sign-in page needs the stylesheet); a path that only
    looks like it, or any other method, goes through the door."""
    resource = request.match_info.route.resource
    return request.method in ("GET", "HEAD") and resource is not None and resource.name == STATIC_NAME


async def current(request: web.Request) -> session.Session | None:
    """The request's session while its agent and the password or token it was opened with still hold, with
    the agent's role as it is now; a session whose agent, token or password went is dropped."""
    found = await session.load(request)
    if found is None:
        return None
    agent = await signin.holder_now(request, found.agent, found.token_sha256)
    if agent is None:
        await session.drop(request, found)
        return None
    return replace(found, role=agent.role)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every console answer, redirects and errors included (an `on_response_prepare` signal)."""
    if is_console(request.path):
        response.headers.update(HEADERS)
        if is_static(request) and response.status == 200:
            response.headers["Cache-Control"] = STATIC_CACHE
