"""SMS over HTTP: the gateway's signed inbound webhook. A message is stored in the inbox and committed
before the gateway gets its 200 (with the others of a burst, in one group commit: `sms_inbox.py`), so an
acknowledged message is never lost; a redelivery is recognised by (gateway, message id) and changes
nothing."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import parse_qsl

import structlog
from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.conversation import InboxRow
from bot.channels.forms import BadRequest, field
from bot.channels.sms_inbox import Received, SmsInboxWriter
from bot.msisdn import BadNumber, mask, normalise
from integrations.smsgateway import DLR_ORDER
from integrations.smsgateway.signing import SIGNATURE, TIMESTAMP, verify
from jobs.delivery import record_report
from jobs.metrics import DELIVERY_REPORTS

log = structlog.get_logger()
MAX_TEXT = 1600  # ten concatenated GSM-7 parts and then some


def parse(body: bytes, content_type: str) -> dict[str, str]:
    """The gateway's form, decoded strictly: invalid UTF-8 or a repeated field is a 400, not a guess."""
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("expected an application/x-www-form-urlencoded form")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
                          errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"unreadable form: {type(exc).__name__}") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise BadRequest("a field appears twice")
    return form


def to_row(form: dict[str, str], gateway: str, region: str, now: datetime) -> Received:
    try:
        msisdn = normalise(field(form, "from", 32), region)
    except BadNumber as exc:
        raise BadRequest(f"from: {exc}") from None
    return Received(gateway=gateway, message_id=field(form, "id", 64), msisdn=msisdn,
                    short_code=field(form, "to", 16), text=field(form, "text", MAX_TEXT), received_at=now)


class SmsChannel:
    def __init__(self, db: Engine, secrets: list[str], region: str, gateway: str = "africastalking",
                 on_stored: Callable[[int, InboxRow | None], None] | None = None) -> None:
        self.db = db
        self.secrets = secrets
        self.region = region
        self.gateway = gateway
        self.inbox = SmsInboxWriter(db, gateway)
        # hands the stored message on for processing: its id, and the row when it is the subscriber's oldest
        # unanswered one (the conversation then need not read the inbox)
        self.on_stored = on_stored

    async def _signed_form(self, request: web.Request) -> dict[str, str] | web.Response:
        body = await request.read()
        if not verify(self.secrets, request.headers.get(TIMESTAMP), request.headers.get(SIGNATURE), body):
            return web.Response(status=403, text="forbidden: missing, stale or wrong signature")
        try:
            return parse(body, request.content_type)
        except BadRequest as exc:
            return web.Response(status=400, text=f"bad request: {exc}")

    async def report(self, request: web.Request) -> web.Response:
        """A delivery report: forward-only status, parked when the message id is not recorded yet."""
        form = await self._signed_form(request)
        if isinstance(form, web.Response):
            return form
        try:
            message_id, status = field(form, "id", 64), field(form, "status", 12)
        except BadRequest as exc:
            return web.Response(status=400, text=f"bad request: {exc}")
        if status not in DLR_ORDER:
            return web.Response(status=400, text=f"bad request: unknown status '{status}'")
        outcome = await asyncio.to_thread(record_report, self.db, message_id, status)  # a write: off the loop
        DELIVERY_REPORTS.labels(status, outcome).inc()
        log.info("sms_report", outcome=outcome, status=status)
        return web.Response(text=f"OK ({outcome})")

    async def inbound(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        if isinstance(form, web.Response):
            return form
        try:
            row = to_row(form, self.gateway, self.region, datetime.now(timezone.utc))
        except BadRequest as exc:
            return web.Response(status=400, text=f"bad request: {exc}")
        structlog.contextvars.bind_contextvars(channel="sms", session=row.message_id, msisdn=mask(row.msisdn))
        return web.Response(text="OK" if await self.take(row) is not None else "OK (duplicate)")

    async def take(self, row: Received) -> int | None:
        """Store the message (committed), then hand it on to be answered; its inbox id, None for a redelivery.
        The console's phone calls this too: its texts take the webhook's path past the signature."""
        try:
            stored = await self.inbox.store(row)
        except IntegrityError:  # stored by another process at the same moment
            stored = None
        if stored is None:
            log.info("sms_inbound_duplicate")
            return None
        log.info("sms_inbound_stored", inbox=stored.row.id)
        if self.on_stored:
            self.on_stored(stored.row.id, stored.row if stored.first else None)
        return stored.row.id
