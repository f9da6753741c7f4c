"""The admin API's route table, deny by default: only what `ROUTES` lists is registered, each with the least
role that may call it; a role below gets 403 naming the role needed, and the handler never runs. Adding a
route is one row here and one handler taking a `Call`."""
from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiohttp import web

from bot.admin import agent_routes, campaign_routes as cr, care_routes
from bot.admin.auth import ACTOR
from bot.admin.http import Call, Handler, Refused, error
from jobs.audit import ROLES

log = structlog.get_logger()


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    role: str  # the least role of jobs.audit.ROLES that may call it
    handler: Handler


ROUTES: list[Route] = [
    Route("GET", "/admin/whoami", "viewer", agent_routes.whoami),
    Route("GET", "/admin/agents", "admin", agent_routes.list_agents),
    Route("POST", "/admin/agents", "admin", agent_routes.add_agent),
    Route("DELETE", "/admin/agents/{name}", "admin", agent_routes.revoke_agent),
    Route("POST", "/admin/agents/{name}/password", "viewer", agent_routes.set_password),  # others': admin
    Route("GET", "/admin/audit", "supervisor", agent_routes.audit_log),
    Route("GET", "/admin/subscribers/{msisdn}", "viewer", care_routes.lookup),
    Route("POST", "/admin/subscribers/{msisdn}/messages", "agent", care_routes.send),
    Route("GET", "/admin/campaigns", "viewer", cr.listing),
    Route("POST", "/admin/campaigns", "agent", cr.create),
    Route("GET", "/admin/campaigns/{id}", "viewer", cr.status),
    Route("GET", "/admin/campaigns/{id}/report", "viewer", cr.report),
    Route("POST", "/admin/campaigns/{id}/preview", "agent", cr.preview),
    Route("POST", "/admin/campaigns/{id}/approve", "agent", cr.approve),
    Route("POST", "/admin/campaigns/{id}/launch", "agent", cr.launch),
    Route("POST", "/admin/campaigns/{id}/pause", "agent", cr.pause),
    Route("POST", "/admin/campaigns/{id}/resume", "agent", cr.resume),
    Route("POST", "/admin/campaigns/{id}/cancel", "agent", cr.cancel),
]


def guarded(route: Route):
    """The aiohttp handler of a route: the role check, then the handler with its `Call`."""
    assert route.role in ROLES, route

    async def handle(request: web.Request) -> web.Response:
        actor = request[ACTOR]  # set by the door (bot/admin/auth.py), which every /admin/ request passes
        if not actor.at_least(route.role):
            return error(403, f"{route.method} {route.path} needs the role {route.role} or above "
                              f"(you are {actor.role})", needed=route.role)
        try:
            return await route.handler(Call(request, actor))
        except Refused as exc:
            return error(exc.status, exc.reason, exc.error)
        except Exception as exc:  # JSON even here; the type only in the log (a message may hold a number)
            log.error("admin_route_failed", route=f"{route.method} {route.path}", agent=actor.name,
                      error=type(exc).__name__)
            return error(500, "internal error (logged)", "internal")

    return handle


def install(app: web.Application, routes: list[Route] = ROUTES) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, guarded(route))
