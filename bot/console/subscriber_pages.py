"""Subscriber lookup: a number typed as people type it is POSTed, never put in a URL; the subscriber's page
is reached by an opaque handle (bot/console/handles.py) and shows the admin API's lookup (`care.profile`,
masked) with the messages each way; an agent sends one reminder kind or a launched campaign's offer through
the same `bot.admin.care` functions as `POST /admin/subscribers/{msisdn}/messages`, with the same role."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from bot.admin import care
from bot.admin.http import ADMIN
from bot.console import handles, subscriber_data as data
from bot.console.access import refused, role_of
from bot.console.door import SESSION
from bot.console.pages import actor, language, render, see_other
from bot.console.words import N_
from bot.msisdn import BadNumber, mask, normalise
from jobs.campaigns import CampaignError
from jobs.churn_tree import explain

log = structlog.get_logger()
FORM = "/console/subscribers"
TIERS = (N_("regular"), N_("silver"), N_("gold"), N_("diamond"))
RESULTS = {
    "queued": N_("Queued: quiet hours and frequency caps apply when it is sent."),
    "opted_out": N_("Not sent: the subscriber has opted out."),
    "sent_before": N_("Not sent: they got this message before (once per campaign or reminder occasion)."),
    "not_due": N_("Nothing sent: this reminder does not apply to the subscriber now."),
}
REFUSALS = {
    "not_found": N_("There is no such campaign."),
    "wrong_state": N_("Only a running or finished campaign's offer can be sent."),
    "kind_campaign": N_("This campaign sends a reminder kind: send that reminder instead."),
    "control_group": N_("Refused: the subscriber is in this campaign's control group, which gets nothing so "
                        "that the campaign's effect can be measured."),
}


VIEW_ROLE = role_of("GET", "/admin/subscribers/{msisdn}")
SEND_ROLE = role_of("POST", "/admin/subscribers/{msisdn}/messages")



async def lookup_form(request: web.Request, problem: str | None = None, status: int = 200,
                      **words: str) -> web.Response:
    if not actor(request).at_least(VIEW_ROLE):
        return refused(VIEW_ROLE)
    return render(request, "subscribers.html", status, problem=problem, words=words)


async def lookup(request: web.Request) -> web.Response:
    """The typed number, normalised as everywhere (+86..., 86..., 138 0000 0001); on to the handle's page.
    A refusal shows the form again, empty, naming at most the masked number."""
    form, state = await request.post(), request.app[ADMIN]
    typed = str(form.get("msisdn", ""))[:40]
    try:
        msisdn = normalise(typed, state.core.settings.service.region)
    except BadNumber:
        return await lookup_form(request, N_("That is not a valid mobile number."), 400)
    if await asyncio.to_thread(care.language_of, state.db, msisdn) is None:
        return await lookup_form(request, N_("No subscriber has the number {number}."), 404, number=mask(msisdn))
    log.info("console_subscriber_looked_up", agent=request[SESSION].agent, msisdn=mask(msisdn))
    return see_other(f"{FORM}/{await handles.make(request, request[SESSION], msisdn)}")


async def _number(request: web.Request) -> str | None:
    return await handles.number(request, request[SESSION], request.match_info["handle"])


def _expired(request: web.Request):
    return lookup_form(request, N_("This page has expired: look the subscriber up again."), 404)


async def page(request: web.Request, problem: str | None = None, status: int = 200) -> web.Response:
    """The subscriber as care sees them; `?result=` names the outcome of the send just made."""
    if not actor(request).at_least(VIEW_ROLE):
        return refused(VIEW_ROLE)
    msisdn = await _number(request)
    if msisdn is None:
        return await _expired(request)
    found = await asyncio.to_thread(_read, request, msisdn)
    result = RESULTS.get(request.query.get("result", ""))
    return render(request, "subscriber.html", status, s=found["profile"], messages=found["messages"],
                  campaigns=found["campaigns"], kinds=sorted(request.app[ADMIN].core.reminders.kinds),
                  may_send=actor(request).at_least(SEND_ROLE), handle=request.match_info["handle"],
                  result=result, problem=problem, zone_name=found["zone_name"])


def _read(request: web.Request, msisdn: str) -> dict[str, Any]:
    """The lookup (reasons in the UI language), the messages in the operator's time zone, the campaigns."""
    state, lang = request.app[ADMIN], language(request)
    zone_name = state.core.settings.service.timezone
    profile = care.profile(state.db, msisdn)
    for week in profile["zones"]:
        week["why"] = explain(week["reasons"], lang, state.core.catalogs)
    if profile["opt_out"]:
        profile["opt_out"]["since"] = data.local(datetime.fromisoformat(profile["opt_out"]["changed_at"]), zone_name)
    return {"profile": profile, "messages": data.messages(state.db, msisdn, zone_name),
            "campaigns": data.offerable(state.db), "zone_name": zone_name}


async def send(request: web.Request) -> web.Response:
    """One reminder kind or one campaign's offer: 403 below the admin API's role; the outcome on the page
    after a 303, a refusal (409) or a bad choice (422) shown in words on the page itself."""
    if not actor(request).at_least(SEND_ROLE):
        return refused(SEND_ROLE)
    msisdn = await _number(request)
    if msisdn is None:
        return await _expired(request)
    form, state = await request.post(), request.app[ADMIN]
    kind, number = str(form.get("kind", "")), str(form.get("campaign", ""))
    if kind in state.core.reminders.kinds:
        done = await asyncio.to_thread(care.send_kind, state, actor(request), msisdn, kind)
        return _sent(request, msisdn, done["outcome"])
    if not number.isdigit() or len(number) > 18:
        return await page(request, N_("Choose a reminder or a campaign."), 422)
    try:
        written = await asyncio.to_thread(care.send_offer, state.db, actor(request), msisdn, int(number),
                                          state.core.catalogs, state.clock())
    except CampaignError as exc:
        return await page(request, REFUSALS.get(exc.code, exc.reason), exc.status)
    await asyncio.to_thread(care.hand_over, state, written)
    outcome = ("queued" if written.outbox_id is not None else
               "opted_out" if written.reason == "opted out" else "sent_before")
    return _sent(request, msisdn, outcome)


def _sent(request: web.Request, msisdn: str, outcome: str) -> web.Response:
    log.info("console_care_sent", agent=request[SESSION].agent, msisdn=mask(msisdn), outcome=outcome)
    return see_other(f"{FORM}/{request.match_info['handle']}?result={outcome}")
