"""The console's pages: sign in and out, the dashboard, the campaigns with pause and cancel. Roles are the
admin API's rule (`Actor.at_least`); lifecycle steps are `jobs.campaigns`' own, which write the audit rows."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web

from bot.admin.http import ADMIN
from bot.console import access, chart, csrf, dashboard, handset, session, signin
from bot.console.door import LOGIN, SESSION
from bot.console.words import N_
from bot.i18n import LANGUAGES
from jobs import campaigns
from jobs.audit import Actor

log = structlog.get_logger()
LANG_COOKIE = "sc_lang"
ACTIONS = {"pause": (campaigns.pause, campaigns.LIVE),
           "cancel": (campaigns.cancel, tuple(s for s in campaigns.STATES if s not in ("cancelled", "done")))}
ACTING_ROLE = access.role_of("POST", "/admin/campaigns/{id}/pause")  # the buttons shown; the step re-checks
PROGRESS_ROLE = access.role_of("GET", "/admin/campaigns/{id}")
CREATING_ROLE = access.role_of("POST", "/admin/campaigns")


def language(request: web.Request) -> str:
    """`?lang=` first, then the `sc_lang` cookie, then the service's language."""
    for asked in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if asked in LANGUAGES:
            return asked
    return request.app[ADMIN].core.settings.service.language


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang, catalogs = language(request), request.app[ADMIN].core.catalogs
    found = request.get(SESSION)
    context.update(_=lambda text: catalogs.gettext(lang, text), lang=lang, me=found,
                   csrf=found.csrf if found else "", path=request.path,
                   phone_link=bool(found) and handset.usable(request.app[ADMIN].core.settings, actor(request)))
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    if request.query.get("lang") in LANGUAGES:
        session.set_cookie(request, response, LANG_COOKIE, lang, 365 * 86400)
    return response


def see_other(location: str) -> web.Response:
    """After a POST: the browser GETs `location` (a reload does not post again)."""
    return web.Response(status=303, headers={"Location": location})


def actor(request: web.Request) -> Actor:
    found = request[SESSION]
    return Actor(found.agent, found.role, f"console {request.remote or '?'}")


async def login_form(request: web.Request) -> web.Response:
    return _login_page(request, None)


def _login_page(request: web.Request, problem: str | None, status: int = 200) -> web.Response:
    """The form, empty again after a refusal: nothing typed is echoed into the page."""
    token = csrf.login_token(request)
    response = render(request, "login.html", status, login_csrf=token, problem=problem)
    csrf.keep_login_token(request, response, token)
    return response


async def login(request: web.Request) -> web.Response:
    """An active agent's name and their password or one of their tokens: a session, and on to the dashboard.
    Too many failures for the name or the address: 429 until the window ends (`signin`)."""
    form = await request.post()
    name, secret = str(form.get("agent", ""))[:64], str(form.get("token", ""))
    if await signin.limited(request, name):
        log.info("console_sign_in_refused", limited=True)
        response = _login_page(request, N_("Too many failed sign-ins. Wait 15 minutes and try again."), 429)
        response.headers["Retry-After"] = str(signin.WINDOW_SECONDS)
        return response
    found, kept = (None, "") if not secret or len(secret) > 200 else await asyncio.to_thread(
        signin.check, request.app[ADMIN].db, name, secret)
    if found is None:
        await signin.failed(request, name)
        log.info("console_sign_in_refused")  # not the typed name: it could be anything, a number too
        return _login_page(request, N_("Unknown agent, password or token."), 401)
    await signin.succeeded(request, name)
    made = await session.create(request.app, found.name, found.role, kept)
    log.info("console_signed_in", agent=found.name, role=found.role)
    response = see_other("/console/")
    session.set_cookie(request, response, session.COOKIE, made.id, session.IDLE_SECONDS)
    return response


async def logout(request: web.Request) -> web.Response:
    await session.drop(request, request[SESSION])
    response = see_other(LOGIN)
    response.del_cookie(session.COOKIE, path="/console/")
    return response


async def home(request: web.Request) -> web.Response:
    """The dashboard: zones (chart and table) and tiers, running campaigns, recent opt-outs."""
    state = request.app[ADMIN]
    now, zone = state.clock(), state.core.settings.service.timezone
    zones = await asyncio.to_thread(dashboard.zones, state.db, now)
    tiers = await asyncio.to_thread(dashboard.tiers, state.db, now)
    running = await asyncio.to_thread(dashboard.running, state.db, state.services)
    opt_outs = await asyncio.to_thread(dashboard.opt_outs, state.db, zone)
    return render(request, "dashboard.html", zones=zones, tiers=tiers, running=running, opt_outs=opt_outs,
                  chart=chart.bars(zones["rows"], "zone"), timezone=zone)


async def progress(request: web.Request) -> web.Response:
    """The running campaigns' counts as JSON for the dashboard's script (the role of GET /admin/campaigns/{id})."""
    if not actor(request).at_least(PROGRESS_ROLE):
        return access.refused(PROGRESS_ROLE)
    state = request.app[ADMIN]
    return web.json_response(await asyncio.to_thread(dashboard.progress, state.db, state.services))


async def campaign_list(request: web.Request, problem: str | None = None, status: int = 200) -> web.Response:
    rows = await asyncio.to_thread(campaigns.listing, request.app[ADMIN].db)
    return render(request, "campaigns.html", status, campaigns=rows, actions=ACTIONS,
                  may_act=actor(request).at_least(ACTING_ROLE), problem=problem,
                  may_create=actor(request).at_least(CREATING_ROLE))

