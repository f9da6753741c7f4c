"""The web console for care agents, served by the same aiohttp app under /console/ (docs/console.md)."""
from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.console import campaign_pages, pages, phone, subscriber_pages as subs, wizard
from bot.console.door import LOGIN, STATIC, STATIC_NAME, add_headers, console_door

TEMPLATES = Path(__file__).parent / "templates"
ASSETS = Path(__file__).parent / "static"


def install(app: web.Application) -> None:
    """Templates (autoescaped), the door and headers, and the console's routes."""
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                         undefined=jinja2.StrictUndefined)
    app.middlewares.append(console_door)
    app.on_response_prepare.append(add_headers)
    app.router.add_static(STATIC, ASSETS, name=STATIC_NAME, show_index=False, follow_symlinks=False)
    app.router.add_get(LOGIN, pages.login_form)
    app.router.add_post(LOGIN, pages.login)
    app.router.add_post("/console/logout", pages.logout)
    app.router.add_get("/console/", pages.home)
    app.router.add_get("/console/progress.json", pages.progress)
    app.router.add_get("/console/campaigns", pages.campaign_list)
    app.router.add_get("/console/campaigns/new", wizard.new)
    app.router.add_post("/console/campaigns/new", wizard.submit)
    app.router.add_get("/console/campaigns/{id}", campaign_pages.detail)
    app.router.add_get("/console/campaigns/{id}/progress", campaign_pages.progress)
    for step in campaign_pages.STEPS:  # approve, launch, pause, resume, cancel: the admin API's handlers
        app.router.add_post(f"/console/campaigns/{{id}}/{step}", campaign_pages.step)
    app.router.add_get("/console/approvals", campaign_pages.approvals)
    app.router.add_get(subs.FORM, subs.lookup_form)
    app.router.add_post(subs.FORM, subs.lookup)
    app.router.add_get(subs.FORM + "/{handle}", subs.page)
    app.router.add_post(subs.FORM + "/{handle}/messages", subs.send)
    app.router.add_get(phone.PAGE, phone.page)
    app.router.add_post(phone.PAGE, phone.press)
    app.router.add_post(phone.PAGE + "/subscriber", phone.use)
