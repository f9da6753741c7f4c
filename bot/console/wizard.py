"""The new-campaign wizard: one form (audience, live count, the message in both languages as the phone shows
it, offer, schedule) that creates the campaign and previews it, so its audience is fixed for the approver.
The spec is the admin API's `CampaignSpec`, the texts `jobs.campaign_text`'s, the count the preview's own
query; a reload or a second click replays the first answer through the API's Idempotency-Key mechanism,
with the key in a hidden field."""
from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDict
from pydantic import ValidationError

from bot.admin.http import ADMIN, Call, answer
from bot.admin.idempotency import Keyed
from bot.console.access import refused as forbidden, role_of
from bot.console.campaign_pages import whole_number
from bot.console.pages import actor, language, render, see_other
from bot.console.words import N_
from flows.offers import MAX_POINTS
from flows.packages import PACKAGES
from jobs import campaigns
from jobs.campaign_audience import size
from jobs.campaign_spec import TIERS, ZONES, Audience, CampaignSpec, Offer
from jobs.campaign_text import samples

LISTS = ("zones", "tiers", "languages")
FIELDS = ("name", "prefixes", "min_tenure_months", "active_within_days", "text_en", "text_zh", "offer",
          "points", "package", "price_fen", "start", "start_at", "rate_per_second", "key")
HINTS = {  # where pydantic found a problem -> what the agent reads next to the field
    "name": N_("Give the campaign a name of 1 to 80 characters."),
    "zones": N_("Choose among the listed values."),
    "prefixes": N_("Number prefixes are + and digits, like +86138, separated by spaces."),
    "min_tenure_months": N_("A whole number of months from 0 to 1200."),
    "active_within_days": N_("A whole number of days from 1 to 180."),
    "text": N_("Write the message in both languages, at most 480 characters each, without the offer or "
               "opt-out line: the system adds them."),
    "offer": N_("Points from 1 to the maximum, or a package with its offer price in fen."),
    "start_at": N_("Give the start date and time, or start now."),
    "rate_per_second": N_("A whole number of messages per second from 1 to 10000, or empty."),
}
WHOLE = N_("A whole phone number is not a prefix, and is not kept in the page: to message one subscriber, use "
           "their page.")
CREATE = "/admin/campaigns"
REUSED = N_("This form was already sent with other values (a campaign was made from them): check the fields "
            "and create again to make another.")
COUNTED = N_("%(n)s subscribers (%(s)s opted out, left out)")
CHARACTERS, SEGMENTS = N_("%(c)s characters"), N_("%(s)s segment(s)")


def without_numbers(values: dict[str, Any]) -> bool:
    """Drop whole numbers from the typed prefixes (they are refused, never echoed); True when one was there."""
    tokens = values["prefixes"].replace(",", " ").split()
    kept = [t for t in tokens if not whole_number(t)]
    values["prefixes"] = " ".join(kept)
    return len(kept) < len(tokens)


def typed(form: Any) -> dict[str, Any]:
    """What the agent typed, to show again: the form's fields (no number, token or password among them)."""
    kept = {f: str(form.get(f, ""))[:600] for f in FIELDS}
    kept.update({f: [str(v) for v in form.getall(f, [])] for f in LISTS})
    return kept


def _int(raw: str) -> str | None:
    """Empty is "not given"; anything else goes to pydantic as typed (which refuses a non-number)."""
    return raw.strip() or None


def _start(values: dict[str, Any], timezone: str) -> str | None:
    """A local date and time in the operator's time zone, as an aware ISO time; "now" is None."""
    if values["start"] != "at":
        return None
    try:
        return datetime.fromisoformat(values["start_at"]).replace(tzinfo=ZoneInfo(timezone)).isoformat()
    except ValueError:
        return values["start_at"] or "missing"  # naive or empty: the spec refuses it, next to the field


def offer_of(values: dict[str, Any]) -> dict[str, Any] | None:
    if values["offer"] == "points":
        return {"points": _int(values["points"])}
    if values["offer"] == "package":
        return {"package": values["package"] or None, "price_fen": _int(values["price_fen"])}
    return None


def spec_of(values: dict[str, Any], timezone: str) -> dict[str, Any]:
    """The admin API's JSON body for what the form holds."""
    audience = {f: values[f] for f in LISTS}
    audience.update(prefixes=values["prefixes"].replace(",", " ").split(),
                    min_tenure_months=_int(values["min_tenure_months"]),
                    active_within_days=_int(values["active_within_days"]))
    return {"name": values["name"], "audience": audience, "text": {"en": values["text_en"], "zh": values["text_zh"]},
            "offer": offer_of(values), "start_at": _start(values, timezone),
            "rate_per_second": _int(values["rate_per_second"])}


def problems(data: dict[str, Any]) -> tuple[CampaignSpec | None, dict[str, str]]:
    """The spec, or for each field in trouble the hint to show beside it."""
    try:
        return CampaignSpec.model_validate(data), {}
    except ValidationError as exc:
        found = {}
        for error in exc.errors():
            loc = [str(p) for p in error["loc"] if not str(p).isdigit()]
            where = loc[1] if loc[:1] == ["audience"] and len(loc) > 1 else (loc[0] if loc else "text")
            where = "zones" if where in LISTS else where
            found.setdefault(where if where in HINTS else "text", HINTS.get(where, HINTS["text"]))
        return None, found


def phone(values: dict[str, Any], catalogs: Any) -> dict[str, dict[str, Any]]:
    """Each language's message exactly as the subscriber gets it (`jobs.campaign_text.samples`), for the
    languages typed so far; an offer that is not valid yet is left out."""
    try:
        offer = Offer.model_validate(offer_of(values)) if offer_of(values) else None
    except ValidationError:
        offer = None
    texts = {"en": values["text_en"].strip() or "…", "zh": values["text_zh"].strip() or "…"}
    shown = samples(CampaignSpec.model_construct(text=texts, offer=offer, kind=None), catalogs)
    return {k: v for k, v in shown.items() if texts[k] != "…"}


async def count(request: web.Request, values: dict[str, Any]) -> dict[str, int] | None:
    """The audience size for the audience typed so far (None while it is not valid)."""
    data = spec_of(values, request.app[ADMIN].core.settings.service.timezone)["audience"]
    try:
        audience = Audience.model_validate(data)
    except ValidationError:
        return None
    state = request.app[ADMIN]

    def measure() -> dict[str, int]:
        with state.db.connect() as conn:
            found = size(conn, audience, state.clock())
        return {"audience": found.audience, "suppressed": found.suppressed}

    return await asyncio.to_thread(measure)


def checked(lang: str, catalogs: Any, found: dict[str, int] | None, shown: dict[str, dict[str, Any]]
            ) -> dict[str, Any]:
    """The JSON answer static/wizard.js shows: the count and each message's cost, worded in the page's language."""
    say = lambda text, **values: catalogs.gettext(lang, text) % values  # noqa: E731
    words = say(COUNTED, n=found["audience"], s=found["suppressed"]) if found else "–"
    costs = {k: " · ".join((v["encoding"], say(CHARACTERS, c=v["characters"]), say(SEGMENTS, s=v["segments"])))
             for k, v in shown.items()}
    return {"count": found, "count_text": words, "phone": shown, "cost": costs}


def page(request: web.Request, values: dict[str, Any], status: int = 200, errors: dict[str, str] | None = None,
         count: dict[str, int] | None = None, phone: dict[str, Any] | None = None, problem: str | None = None
         ) -> web.Response:
    """The form with what was typed, and whatever the last post found (reasons, count, the phone's view)."""
    return render(request, "wizard.html", status, v=values, zones=ZONES, tiers=TIERS, languages=("en", "zh_Hans"),
                  packages=sorted(PACKAGES), max_points=MAX_POINTS, tz=request.app[ADMIN].core.settings.service.timezone,
                  errors=errors or {}, count=count, phone=phone or {}, problem=problem)


async def new(request: web.Request) -> web.Response:
    """The empty form, with a fresh idempotency key."""
    if not actor(request).at_least(role_of("POST", CREATE)):
        return forbidden(role_of("POST", CREATE))
    values = typed(MultiDict())
    values.update(key=secrets.token_urlsafe(18), offer="none", start="now")
    return page(request, values)


async def submit(request: web.Request) -> web.Response:
    """"Count" (or the JS's "check") shows the count and the phone preview; "Create" creates and previews."""
    if not actor(request).at_least(role_of("POST", CREATE)):
        return forbidden(role_of("POST", CREATE))
    form = await request.post()
    values, catalogs = typed(form), request.app[ADMIN].core.catalogs
    if without_numbers(values):
        return page(request, values, 422, errors={"prefixes": WHOLE}, phone=phone(values, catalogs))
    if form.get("step") == "check":
        return web.json_response(checked(language(request), catalogs, await count(request, values),
                                         phone(values, catalogs)))
    if form.get("step") != "create":
        return page(request, values, count=await count(request, values), phone=phone(values, catalogs))
    spec, errors = problems(spec_of(values, request.app[ADMIN].core.settings.service.timezone))
    if spec is None:
        return page(request, values, 422, errors=errors, phone=phone(values, catalogs))
    return await create(request, values, spec)


async def create(request: web.Request, values: dict[str, Any], spec: CampaignSpec) -> web.Response:
    """Create and preview under the form's key: the first submit works, a repeat replays its answer."""
    state, who = request.app[ADMIN], actor(request)

    async def work(call: Call) -> web.Response:
        try:
            made = await asyncio.to_thread(campaigns.create, state.db, spec, who, state.clock())
            await asyncio.to_thread(campaigns.preview, state.db, made["id"], who, state.clock(), state.core.catalogs,
                                    state.services, state.core.settings.campaigns.control_share)
        except campaigns.CampaignError as exc:
            return answer({"reason": exc.reason}, status=exc.status)
        return answer({"id": made["id"]}, status=201)

    key = values["key"] if 16 <= len(values["key"]) <= 64 else secrets.token_urlsafe(18)
    done = await Keyed(Call(request, who), key, work).answer()
    body = json.loads(done.text or "{}")
    if "id" in body:
        return see_other(f"/console/campaigns/{body['id']}")
    reused = done.status == 409 and key in str(body.get("reason", ""))  # the key, used with other values
    values["key"] = secrets.token_urlsafe(18)  # the key's answer was not a campaign: the next submit is new
    return page(request, values, done.status, problem=REUSED if reused else body.get("reason") or body.get("error"))
