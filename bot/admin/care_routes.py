"""Handlers for one subscriber: look them up, and send them one reminder kind or one care message (202 with
what was queued, or suppressed and why)."""
from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.admin import care
from bot.admin.http import Call, Refused, answer, body
from bot.admin.idempotency import idempotent
from bot.msisdn import BadNumber, normalise
from jobs.campaigns import CampaignError
from jobs.churn_tree import explain

LANGUAGES = ("zh_Hans", "en")


def _number(call: Call) -> str:
    try:
        return normalise(call.request.match_info["msisdn"], call.state.core.settings.service.region)
    except BadNumber as exc:
        raise Refused(400, f"msisdn: {exc}") from None


async def lookup(call: Call) -> web.Response:
    """The subscriber as care sees them; each week's reasons also in words (`?lang=en|zh_Hans`, default the
    service's language), as the agent reads them to the customer."""
    lang = call.request.query.get("lang", call.state.core.settings.service.language)
    if lang not in LANGUAGES:
        raise Refused(400, f"query 'lang' must be one of {', '.join(LANGUAGES)}")
    found = await asyncio.to_thread(care.profile, call.state.db, _number(call))
    if found is None:
        raise Refused(404, "no such subscriber")
    for week in found["zones"]:
        week["why"] = explain(week["reasons"], lang, call.state.core.catalogs)
    return answer(found)


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh_Hans: str | None = Field(default=None, min_length=1, max_length=1000)
    en: str | None = Field(default=None, min_length=1, max_length=1000)


class CareMessage(BaseModel):
    """A reminder kind of menus/reminders.toml, a text per language, or a launched campaign's message and
    offer (`campaign`: its number)."""

    model_config = ConfigDict(extra="forbid")
    kind: str | None = Field(default=None, min_length=1, max_length=32)
    text: Texts | None = None
    campaign: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def one_of(self) -> "CareMessage":
        if [self.kind, self.text, self.campaign].count(None) != 2:
            raise ValueError("give exactly one of 'kind', 'text' and 'campaign'")
        return self


@idempotent
async def send(call: Call) -> web.Response:
    msisdn = _number(call)
    message = await body(call, CareMessage)
    language = await asyncio.to_thread(care.language_of, call.state.db, msisdn)
    if language is None:
        raise Refused(404, "no such subscriber")
    if message.kind is not None:
        return await _reminder(call, msisdn, message.kind)
    if message.campaign is not None:
        return await _offer(call, msisdn, message.campaign)
    text = getattr(message.text, language, None)
    if not text:
        raise Refused(422, f"field 'text.{language}': required, the subscriber reads {language}")
    state = call.state
    done = await asyncio.to_thread(care.write_care, state.db, call.actor, msisdn, text, language, state.clock())
    return await _queued(call, done, language)


async def _queued(call: Call, done: care.Written, language: str, **extra) -> web.Response:
    """Hand a written row to the senders; 202 with what was queued, or why nothing was."""
    await asyncio.to_thread(care.hand_over, call.state, done)
    return answer({"queued": int(done.outbox_id is not None), "suppressed": int(done.reason == "opted out"),
                   "reason": done.reason or "queued: quiet hours and caps apply at send", "language": language,
                   **extra}, status=202)


async def _offer(call: Call, msisdn: str, number: int) -> web.Response:
    s = call.state
    try:
        done = await asyncio.to_thread(care.send_offer, s.db, call.actor, msisdn, number, s.core.catalogs, s.clock())
    except CampaignError as exc:
        raise Refused(exc.status, exc.reason, exc.code) from None
    language = await asyncio.to_thread(care.language_of, s.db, msisdn)
    return await _queued(call, done, language or "zh_Hans", campaign=number, channel=done.channel)


async def _reminder(call: Call, msisdn: str, name: str) -> web.Response:
    kinds = call.state.core.reminders.kinds
    if name not in kinds:
        raise Refused(422, f"field 'kind': unknown kind '{name}' (one of {', '.join(kinds)})")
    result = await asyncio.to_thread(care.send_kind, call.state, call.actor, msisdn, name)
    result.pop("outcome")
    return answer(result, status=202)
