"""Handlers for care campaigns: list, create, preview, approve, launch, pause, resume, cancel, status and
report. The lifecycle and its rules live in `jobs/campaigns.py`; a handler reads the call, runs one lifecycle
step off the event loop and answers what it returned, or the step's refusal (`CampaignError`) as a JSON error.
Create and launch take an `Idempotency-Key`: a retried click never makes a second campaign or run."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable

import structlog
from aiohttp import web

from bot.admin.http import Call, Refused, answer, body
from bot.admin.idempotency import idempotent
from jobs import campaigns
from jobs.campaign_spec import CampaignSpec

log = structlog.get_logger()
STATES = ("draft", "previewed", "approved", "scheduled", "running", "paused", "cancelled", "done")


def _id(call: Call) -> int:
    raw = call.request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise Refused(400, f"campaign id must be a whole number, not '{raw[:40]}'")
    return int(raw)


async def _step(step: Callable[..., dict], *args: Any) -> dict:
    """One lifecycle step in a thread; its refusal becomes the API's."""
    try:
        return await asyncio.to_thread(step, *args)
    except campaigns.CampaignError as exc:
        raise Refused(exc.status, exc.reason, exc.code) from None


async def listing(call: Call) -> web.Response:
    state = call.request.query.get("state")
    if state is not None and state not in STATES:
        raise Refused(400, f"query 'state' must be one of {', '.join(STATES)}")
    rows = await _step(lambda: {"campaigns": campaigns.listing(call.state.db, state=state)})
    return answer(rows)


@idempotent
async def create(call: Call) -> web.Response:
    spec = await body(call, CampaignSpec)
    made = await _step(campaigns.create, call.state.db, spec, call.actor, call.state.clock())
    return answer(made, status=201)


async def preview(call: Call) -> web.Response:
    s = call.state
    share = s.core.settings.campaigns.control_share
    return answer(await _step(campaigns.preview, s.db, _id(call), call.actor, s.clock(), s.core.catalogs,
                              s.services, share))


async def approve(call: Call) -> web.Response:
    s = call.state
    above = s.core.settings.campaigns.second_approval_above
    return answer(await _step(campaigns.approve, s.db, _id(call), call.actor, s.clock(), above))


@idempotent
async def launch(call: Call) -> web.Response:
    """202: the campaign is running (or scheduled); its run is handed to the workers. If Redis is away the
    scheduled re-scan of unfinished campaigns starts it: late, never lost."""
    s, number = call.state, _id(call)
    launched = await _step(campaigns.launch, s.db, number, call.actor, s.clock())
    if s.run_campaign is not None:
        await asyncio.to_thread(s.run_campaign, number, _start(launched))
    return answer(launched, status=202)


def _start(launched: dict) -> datetime | None:
    at = launched.get("start_at")
    return datetime.fromisoformat(at) if launched.get("state") == "scheduled" and at else None


def _simple(step: Callable[..., dict]):
    async def handle(call: Call) -> web.Response:
        return answer(await _step(step, call.state.db, _id(call), call.actor, call.state.clock()))

    handle.__name__ = step.__name__
    return handle


pause, cancel = _simple(campaigns.pause), _simple(campaigns.cancel)


async def resume(call: Call) -> web.Response:
    """The run goes on at once (the re-scan would start it within a minute anyway)."""
    s, number = call.state, _id(call)
    resumed = await _step(campaigns.resume, s.db, number, call.actor, s.clock())
    if s.run_campaign is not None:
        await asyncio.to_thread(s.run_campaign, number, _start(resumed))
    return answer(resumed)


async def status(call: Call) -> web.Response:
    return answer(await _step(campaigns.status, call.state.db, _id(call), call.state.services))


async def report(call: Call) -> web.Response:
    return answer(await _step(campaigns.report, call.state.db, _id(call), call.state.services))
