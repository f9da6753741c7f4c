"""A campaign's own page (spec, texts, state, live progress, the report against the control group), the
approval queue, and the lifecycle buttons (approve, launch, pause, resume, cancel). Each button runs the
admin API's own handler (bot/admin/campaign_routes.py) with the console's actor, behind the role its admin
route has in `bot.admin.routes.ROUTES`: the same rules, the same audit rows, and launch and resume hand the
run to the workers exactly as the API does."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.admin import campaign_routes as cr
from bot.admin.http import ADMIN, Call, Refused
from bot.console.access import refused as forbidden, role_of
from bot.console.pages import actor, campaign_list, render, see_other
from bot.console.words import N_
from bot.msisdn import BadNumber, mask, normalise
from jobs import campaigns
from jobs.campaign_text import samples

STEPS = {"approve": cr.approve, "launch": cr.launch, "pause": cr.pause, "resume": cr.resume, "cancel": cr.cancel}
WHEN = {"approve": ("previewed",), "launch": ("approved",), "pause": campaigns.LIVE, "resume": ("paused",),
        "cancel": tuple(s for s in campaigns.STATES if s not in ("cancelled", "done"))}
PROGRESS = ("written", "sent", "delivered", "replied", "accepted", "pending")
QUEUE = "/console/approvals"
LABELS = {"approve": N_("Approve"), "launch": N_("Launch"), "pause": N_("Pause"), "resume": N_("Resume"),
          "cancel": N_("Cancel")}
SHOWN = (N_("written"), N_("sent"), N_("delivered"), N_("replied"), N_("accepted"), N_("pending"), N_("messaged"),
         N_("control"), N_("better"), N_("same"), N_("worse"))  # words the detail page shows from data


def step_role(step: str) -> str:
    return role_of("POST", f"/admin/campaigns/{{id}}/{step}")


def allowed(request: web.Request, state: str) -> list[str]:
    """The lifecycle steps this agent may press for a campaign in `state`."""
    who = actor(request)
    return [s for s in STEPS if state in WHEN[s] and who.at_least(step_role(s))]


def number(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    return int(raw)


def whole_number(token: str) -> bool:
    """A "prefix" that is a whole valid number: no page may hold one (shown masked, refused in the wizard)."""
    try:
        return normalise(token) == token
    except BadNumber:
        return False


async def detail(request: web.Request, problem: str | None = None, status: int = 200) -> web.Response:
    """Everything about one campaign; the progress numbers are polled by static/progress.js."""
    state, who = request.app[ADMIN], actor(request)
    if not who.at_least(role_of("GET", "/admin/campaigns/{id}/report")):
        return forbidden(role_of("GET", "/admin/campaigns/{id}/report"))
    campaign_id = number(request)
    try:
        found = await asyncio.to_thread(campaigns.report, state.db, campaign_id, state.services)
        spec = await asyncio.to_thread(campaigns.spec, state.db, campaign_id)
    except campaigns.CampaignError:
        raise web.HTTPNotFound() from None  # the only refusal of a read: no such campaign
    texts = samples(spec, state.core.catalogs)
    prefixes = [mask(p) if whole_number(p) else p for p in spec.audience.prefixes]
    return render(request, "campaign.html", status, c=found, spec=spec, texts=texts, progress=PROGRESS,
                  steps=allowed(request, found["state"]), labels=LABELS, problem=problem,
                  bars=bars(found.get("zones")), prefixes=prefixes,
                  start=local(found.get("start_at") or (spec.start_at and spec.start_at.isoformat()),
                              state.core.settings.service.timezone))


async def progress(request: web.Request) -> web.Response:
    """The campaign's state and counts as JSON, for the detail page's poll."""
    state, role = request.app[ADMIN], role_of("GET", "/admin/campaigns/{id}")
    if not actor(request).at_least(role):
        return forbidden(role)
    try:
        found = await asyncio.to_thread(campaigns.status, state.db, number(request), state.services)
    except campaigns.CampaignError as exc:
        return web.json_response({"error": exc.code}, status=exc.status)
    return web.json_response({k: found.get(k) for k in ("state", *PROGRESS)})


async def approvals(request: web.Request, problem: str | None = None, status: int = 200) -> web.Response:
    """Previewed campaigns waiting for approval, and approved ones waiting for launch."""
    state = request.app[ADMIN]
    waiting = await asyncio.to_thread(campaigns.listing, state.db, "previewed")
    ready = await asyncio.to_thread(campaigns.listing, state.db, "approved")
    return render(request, "approvals.html", status, waiting=waiting, ready=ready, problem=problem,
                  above=state.core.settings.campaigns.second_approval_above, back=QUEUE,
                  may_approve=actor(request).at_least(step_role("approve")),
                  may_launch=actor(request).at_least(step_role("launch")))


async def step(request: web.Request) -> web.Response:
    """One lifecycle step by the admin API's handler; its refusal shown on the page the button was on."""
    name, campaign_id = request.path.rsplit("/", 1)[1], number(request)
    if not actor(request).at_least(step_role(name)):
        return forbidden(step_role(name))
    back = str((await request.post()).get("back", ""))
    back = back if back in (QUEUE, f"/console/campaigns/{campaign_id}") else "/console/campaigns"
    try:
        await STEPS[name](Call(request, actor(request)))
    except Refused as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        shown = {QUEUE: approvals, "/console/campaigns": campaign_list}.get(back, detail)
        return await shown(request, exc.reason, exc.status)
    return see_other(back)


def local(moment: str | None, timezone: str) -> str | None:
    """An ISO time as the operator reads it: "2026-12-03 18:00 (Asia/Shanghai)"."""
    if not moment:
        return None
    return f"{datetime.fromisoformat(moment).astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} ({timezone})"


def bars(zones: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The report's shares as SVG bars (messaged and control per movement), widths in percent of 300 px."""
    if not zones:
        return []
    out = []
    for move in ("better", "same", "worse"):
        for group in ("messaged", "control"):
            share = zones[group].get(f"{move}_share")
            out.append({"move": move, "group": group, "share": share,
                        "width": round(300 * (share or 0)), "y": len(out) * 22})
    return out
