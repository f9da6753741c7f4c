"""The tester phone's handset: one per console session, kept in Redis for the session's 8 idle hours. It dials
and replies through the USSD webhook's own path (`ussd.to_inbound`, `UssdChannel.reply`) and texts through the
SMS webhook's path past the signature (`SmsChannel.take`); screens are measured by `sim`'s `budget_use`.
Subscribers are named in pages by a handle (an HMAC under a key that never leaves the server), never a number."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.channels.forms import BadRequest
from bot.channels.sms_inbox import Received
from bot.channels.ussd import to_inbound
from bot.console.access import role_of
from bot.console.session import IDLE_SECONDS, Session
from bot.console.words import N_
from bot.models import Subscriber
from bot.msisdn import mask
from bot.settings import Settings
from bot.startup import embedded
from bot.tools.console import budget_use
from integrations.gsm import count
from jobs.audit import Actor
from jobs.tables import Outbox

log = structlog.get_logger()
KEY = "console:phone:"
DEMOS_SHOWN = 12  # the first subscribers by number: the seeded demo's showcase numbers come first
INBOX_SHOWN = 20
TYPED_MAX = 160
REPLY_WAIT_S = 3.0  # how long a text's POST waits for its reply before the page says "waiting"
MODES = ("ussd", "sms")
TIERS = (N_("regular"), N_("silver"), N_("gold"), N_("diamond"))
KINDS = (N_("reply"), N_("confirmation"), N_("reminder"), N_("marketing"))
STATUSES = (N_("pending"), N_("sending"), N_("sent"), N_("failed"), N_("suppressed"), N_("capped"), N_("held"),
            N_("cancelled"), N_("delivered"))


# The phone makes messages reach a subscriber and acts as one (books, pays by points): the admin API's role for
# sending a subscriber a message.
ROLE = role_of("POST", "/admin/subscribers/{msisdn}/messages")


def enabled(settings: Settings) -> bool:
    """`[console] phone`: "auto" is on in the embedded demo only."""
    return settings.console.phone == "true" or (settings.console.phone == "auto" and embedded(settings))


def usable(settings: Settings, who: Actor) -> bool:
    """On in the configuration, and an agent or above: the nav shows the phone only then."""
    return enabled(settings) and who.at_least(ROLE)


@dataclass
class Handset:
    """What a gateway keeps for one handset (session id, code, inputs so far) and what its screen shows."""

    key: str = field(default_factory=lambda: secrets.token_hex(16))  # handles' HMAC key: server-side only
    msisdn: str = ""
    mode: str = "ussd"
    typed: str = ""
    ref: str = ""  # the open USSD session's id, "" when none is open
    code: str = ""
    inputs: list[str] = field(default_factory=list)
    screen: dict[str, Any] | None = None  # the last USSD screen: text, final, encoding, used, budget
    sent: str = ""  # the last text sent in SMS mode
    sent_id: int = 0  # its inbox id: its reply is the outbox row with cause sms-in:<id>
    problem: str = ""

    def handle(self, msisdn: str) -> str:
        return hmac.new(self.key.encode(), msisdn.encode(), hashlib.sha256).hexdigest()[:20]

    def use(self, msisdn: str, mode: str) -> None:
        """Another subscriber or mode: the screen and any open session are left behind, as on a new phone."""
        self.msisdn, self.mode = msisdn, mode if mode in MODES else "ussd"
        self.typed = self.ref = self.code = self.sent = self.problem = ""
        self.inputs, self.screen, self.sent_id = [], None, 0


def _key(session: Session) -> str:
    return KEY + hashlib.sha256(session.id.encode()).hexdigest()


def _redis(app: web.Application):
    from bot.web import REDIS  # bot.web installs the console: imported late to avoid the cycle

    return app[REDIS].aio


async def load(app: web.Application, session: Session) -> Handset:
    raw = await _redis(app).hget(_key(session), "state")
    if not raw:
        return Handset()
    return Handset(**json.loads(raw))


async def save(app: web.Application, session: Session, handset: Handset) -> None:
    key = _key(session)
    await _redis(app).hset(key, mapping={"state": json.dumps(asdict(handset), ensure_ascii=False)})
    await _redis(app).expire(key, IDLE_SECONDS)


def demo_subscribers(engine: Engine) -> list[dict[str, str]]:
    """The first subscribers by number, with what a tester picks by: tier and language (no name)."""
    stmt = (select(Subscriber.msisdn, Subscriber.tier, Subscriber.language)
            .order_by(Subscriber.msisdn).limit(DEMOS_SHOWN))
    with engine.connect() as conn:
        return [{"msisdn": m, "tier": t, "language": lang} for m, t, lang in conn.execute(stmt)]


def picked(handset: Handset, handle: str, demos: list[dict[str, str]]) -> str | None:
    """The number behind a posted handle, if it is one of the listed subscribers."""
    return next((d["msisdn"] for d in demos if hmac.compare_digest(handset.handle(d["msisdn"]), handle)), None)


def shown_demos(handset: Handset, demos: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"handle": handset.handle(d["msisdn"]), "masked": mask(d["msisdn"]), "tier": d["tier"],
             "language": d["language"], "chosen": d["msisdn"] == handset.msisdn} for d in demos]


async def send(app: web.Application, handset: Handset) -> None:
    """The Send/Call key: dial a code, reply on the open USSD session, or text the short code."""
    typed, handset.typed, handset.problem = handset.typed.strip(), "", ""
    if not handset.msisdn:
        handset.problem = N_("Pick a demo subscriber first.")
    elif handset.mode == "sms":
        await _text(app, handset, typed)
    elif typed.startswith("*") and typed.endswith("#"):
        handset.ref, handset.code, handset.inputs = f"console-{secrets.token_hex(8)}", typed, []
        await _hop(app, handset)
    elif handset.ref:
        handset.inputs.append(typed)
        await _hop(app, handset)
    else:
        handset.problem = N_("No session: dial a code first, e.g. *126#.")


def end(handset: Handset) -> None:
    """The End key: the handset hangs up (the next dial may be offered to continue, as on a real phone)."""
    handset.ref, handset.code, handset.inputs, handset.screen, handset.typed = "", "", [], None, ""


async def _hop(app: web.Application, handset: Handset) -> None:
    from bot.web import CORE, USSD  # imported late: bot.web installs the console

    core = app[CORE]
    form = {"sessionId": handset.ref, "serviceCode": handset.code, "phoneNumber": handset.msisdn,
            "text": "*".join(handset.inputs)}
    try:
        inbound = to_inbound(form, core.settings.service.region, core.menus.codes)
    except BadRequest:
        handset.ref, handset.inputs = "", []
        handset.problem = N_("The USSD gateway refuses this code.")
        return
    structlog.contextvars.bind_contextvars(channel="ussd", session=inbound.ref, msisdn=mask(inbound.msisdn))
    reply = await app[USSD].reply(inbound)
    u = core.settings.ussd
    encoding, used, budget = budget_use(reply.text, u.gsm7_budget, u.ucs2_budget)
    handset.screen = {"text": reply.text, "final": reply.final, "encoding": encoding, "used": used,
                      "budget": budget}
    if reply.final:
        handset.ref, handset.inputs = "", []


async def _text(app: web.Application, handset: Handset, text: str) -> None:
    """A text to the short code, stored as the webhook stores one; waits a little for its reply."""
    from bot.web import CORE, DB, SMS  # imported late: bot.web installs the console

    if not text:
        handset.problem = N_("Type a text first, e.g. GOLF or BAL.")
        return
    channel, s = app[SMS], app[CORE].settings
    row = Received(gateway=channel.gateway, message_id=f"console-{secrets.token_hex(8)}", msisdn=handset.msisdn,
                   short_code=s.sms.short_code, text=text[:TYPED_MAX], received_at=datetime.now(timezone.utc))
    structlog.contextvars.bind_contextvars(channel="sms", session=row.message_id, msisdn=mask(row.msisdn))
    handset.sent, handset.sent_id = row.text, await channel.take(row) or 0
    deadline = asyncio.get_running_loop().time() + REPLY_WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        if await asyncio.to_thread(reply_to, app[DB], handset.sent_id) is not None:
            return
        await asyncio.sleep(0.1)


def reply_to(engine: Engine, inbox_id: int) -> dict[str, Any] | None:
    """The answer to a text the phone sent, once written (cause `sms-in:<inbox id>`)."""
    if not inbox_id:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(Outbox).where(Outbox.cause == f"sms-in:{inbox_id}")).first()
    return _message(row) if row else None


def inbox(engine: Engine, msisdn: str) -> list[dict[str, Any]]:
    """What the subscriber receives (replies, confirmations, reminders, campaigns), newest first."""
    stmt = select(Outbox).where(Outbox.msisdn == msisdn).order_by(Outbox.id.desc()).limit(INBOX_SHOWN)
    with engine.connect() as conn:
        return [_message(row) for row in conn.execute(stmt)]


def _message(row: Any) -> dict[str, Any]:
    counted = count(row.text)
    return {"id": row.id, "text": row.text, "kind": row.kind, "status": row.dlr_status or row.status,
            "at": row.created_at, "encoding": counted.encoding, "units": counted.units,
            "segments": counted.segments}
