"""The role a console page needs is the role of the admin API route doing the same thing, read from
`bot.admin.routes.ROUTES` (never copied), checked with `Actor.at_least`."""
from __future__ import annotations

from aiohttp import web

from bot.admin.routes import ROUTES


def role_of(method: str, path: str) -> str:
    """The least role of the admin route `method path` (a KeyError at import if the table lost it)."""
    return {(r.method, r.path): r.role for r in ROUTES}[(method, path)]


def refused(role: str) -> web.Response:
    return web.Response(status=403, text=f"403: needs the role {role} or above", content_type="text/plain")
