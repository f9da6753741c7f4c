"""The tester phone's pages (/console/phone): a handset drawn in the page that dials USSD and texts the short
code as a demo subscriber, and its inbox (the outbox rows for that number). Served only when `[console] phone`
is on (else 404) and to agents and above; forms POST and 303 back, `static/phone.js` makes it feel like a phone."""
from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from bot.admin.http import ADMIN
from bot.console import handset
from bot.console.door import SESSION
from bot.console.pages import actor, render, see_other
from bot.msisdn import mask

log = structlog.get_logger()
PAGE = "/console/phone"
KEYS = "123456789*0#"


def guard(request: web.Request) -> None:
    """404 when the phone is off (nothing told about it), 403 below the role."""
    if not handset.enabled(request.app[ADMIN].core.settings):
        raise web.HTTPNotFound()
    if not actor(request).at_least(handset.ROLE):
        raise web.HTTPForbidden(text=f"403: needs the role {handset.ROLE} or above")


async def page(request: web.Request) -> web.Response:
    guard(request)
    state, found = request.app[ADMIN], await handset.load(request.app, request[SESSION])
    demos = await asyncio.to_thread(handset.demo_subscribers, state.db)
    messages = await asyncio.to_thread(handset.inbox, state.db, found.msisdn) if found.msisdn else []
    answer = await asyncio.to_thread(handset.reply_to, state.db, found.sent_id)
    zone = ZoneInfo(state.core.settings.service.timezone)
    for m in messages:
        m["at"] = m["at"].astimezone(zone).strftime("%Y-%m-%d %H:%M")
    await handset.save(request.app, request[SESSION], found)  # keeps the handle key for the next post
    return render(request, "phone.html", phone=found, demos=handset.shown_demos(found, demos),
                  masked=mask(found.msisdn) if found.msisdn else "", messages=messages, answer=answer,
                  keys=KEYS, modes=handset.MODES)


async def use(request: web.Request) -> web.Response:
    """The subscriber and mode picked: by handle, one of the listed demo subscribers only."""
    guard(request)
    form, state = await request.post(), request.app[ADMIN]
    found = await handset.load(request.app, request[SESSION])
    demos = await asyncio.to_thread(handset.demo_subscribers, state.db)
    msisdn = handset.picked(found, str(form.get("subscriber", ""))[:64], demos)
    if msisdn is None:
        found.problem = "Pick a demo subscriber first."
    else:
        found.use(msisdn, str(form.get("mode", "ussd")))
        log.info("console_phone_used", agent=request[SESSION].agent, msisdn=mask(msisdn), mode=found.mode)
    await handset.save(request.app, request[SESSION], found)
    return see_other(PAGE)


async def press(request: web.Request) -> web.Response:
    """A keypad key (appended to what is typed), Send/Call, or End; the screen is kept for the page."""
    guard(request)
    form = await request.post()
    found = await handset.load(request.app, request[SESSION])
    found.typed = str(form.get("typed", ""))[:handset.TYPED_MAX]
    key, action = str(form.get("key", "")), str(form.get("action", ""))
    if len(key) == 1 and key in KEYS:
        found.typed = (found.typed + key)[:handset.TYPED_MAX]
    elif action == "send":
        await handset.send(request.app, found)
    elif action == "end":
        handset.end(found)
    await handset.save(request.app, request[SESSION], found)
    return see_other(PAGE)
