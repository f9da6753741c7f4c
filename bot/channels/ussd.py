"""USSD over HTTP, Africa's Talking-compatible: `CON`/`END` plain-text replies to form posts."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import structlog
from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as DbSession

from bot.channels.forms import BadRequest, authorised, field, number, read_form
from bot.dispatcher import Dispatcher, Inbound, Reply
from bot.models import UssdSessionEnd
from bot.msisdn import BadNumber, mask, normalise

log = structlog.get_logger()

MAX_TEXT = 1000  # all inputs of a session joined by "*"


def to_inbound(form: dict[str, str], region: str, codes: tuple[str, ...]) -> Inbound:
    """Convert the gateway's form at the door: text holds every input so far, joined by '*'."""
    session_id = field(form, "sessionId")
    code = field(form, "serviceCode", 32)
    if code not in codes:
        raise BadRequest(f"unknown serviceCode '{code}'")
    try:
        msisdn = normalise(field(form, "phoneNumber", 32), region)
    except BadNumber as exc:
        raise BadRequest(f"phoneNumber: {exc}") from None
    text = field(form, "text", MAX_TEXT, required=False)
    inputs = text.split("*") if text else []
    return Inbound("ussd", msisdn, session_id, inputs[-1] if inputs else None, len(inputs), code)


def answer(reply: Reply) -> web.Response:
    return web.Response(text=("END " if reply.final else "CON ") + reply.text)


class UssdChannel:
    """The aiohttp handlers of the USSD channel."""

    def __init__(self, dispatcher: Dispatcher, secret: str, region: str, codes: tuple[str, ...],
                 reply_timeout: float) -> None:
        self.dispatcher = dispatcher
        self.secret = secret
        self.region = region
        self.codes = codes
        self.reply_timeout = reply_timeout

    async def hop(self, request: web.Request) -> web.Response:
        if not authorised(request, self.secret):
            return web.Response(status=403, text="forbidden: missing or wrong key")
        try:
            inbound = to_inbound(await read_form(request), self.region, self.codes)
        except BadRequest as exc:
            return web.Response(status=400, text=f"bad request: {exc}")
        structlog.contextvars.bind_contextvars(channel="ussd", session=inbound.ref, msisdn=mask(inbound.msisdn))
        return answer(await self.reply(inbound))

    async def reply(self, inbound: Inbound) -> Reply:
        """The hop's screen, or the apology in time when a dependency is slow (the console's phone calls this
        too, so a tester walks the webhook's own path)."""
        try:
            async with asyncio.timeout(self.reply_timeout):  # no extra task per hop, unlike wait_for
                return await self.dispatcher.handle(inbound)
        except TimeoutError:  # a slow dependency: the handset still gets a polite END in time
            log.error("hop_timed_out", timeout=self.reply_timeout)
            return self.dispatcher.apology()

    async def end(self, request: web.Request) -> web.Response:
        if not authorised(request, self.secret):
            return web.Response(status=403, text="forbidden: missing or wrong key")
        try:
            row = self._end_row(await read_form(request))
        except BadRequest as exc:
            return web.Response(status=400, text=f"bad request: {exc}")
        structlog.contextvars.bind_contextvars(channel="ussd", session=row.session_id, msisdn=mask(row.msisdn))
        engine = self.dispatcher.subscribers.engine
        try:
            with DbSession(engine, expire_on_commit=False) as db:
                db.add(row)
                db.commit()
        except IntegrityError:
            log.info("session_end_duplicate")
            return web.Response(text="OK (duplicate)")
        log.info("session_end_recorded", status=row.status, hops=row.hops)
        return web.Response(text="OK")

    def _end_row(self, form: dict[str, str]) -> UssdSessionEnd:
        try:
            msisdn = normalise(field(form, "phoneNumber", 32), self.region)
        except BadNumber as exc:
            raise BadRequest(f"phoneNumber: {exc}") from None
        return UssdSessionEnd(
            session_id=field(form, "sessionId"), msisdn=msisdn,
            service_code=field(form, "serviceCode", 32, required=False),
            status=field(form, "status", 32), duration_ms=number(form, "durationInMillis"),
            hops=number(form, "hopsCount"), last_input=field(form, "input", 512, required=False),
            error_message=field(form, "errorMessage", 512, required=False),
            received_at=datetime.now(timezone.utc))

