"""The web console for care agents, served by the same aiohttp app under /console/ (docs/console.md)."""
from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.console import pages, phone
from bot.console.door import LOGIN, add_headers, console_door

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def install(app: web.Application) -> None:
    """Templates (autoescaped), the door and headers, and the console's routes."""
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                         undefined=jinja2.StrictUndefined)
    app.middlewares.append(console_door)
    app.on_response_prepare.append(add_headers)
    app.router.add_get(LOGIN, pages.login_form)
    app.router.add_post(LOGIN, pages.login)
    app.router.add_post("/console/logout", pages.logout)
    app.router.add_get("/console/", pages.home)
    app.router.add_get("/console/campaigns", pages.campaign_list)
    app.router.add_post("/console/campaigns/{id}/pause", pages.campaign_action)
    app.router.add_post("/console/campaigns/{id}/cancel", pages.campaign_action)
    app.router.add_get(phone.PAGE, phone.page)
    app.router.add_post(phone.PAGE, phone.press)
    app.router.add_post(phone.PAGE + "/subscriber", phone.use)
    app.router.add_static("/console/static/", STATIC)  # phone.js (a duplicate of "look"'s route: keep one)
