"""A simulated SMS gateway (`shortcode gateway`): accepts sends like Africa's Talking, reports delivery,
delivers inbound messages, and misbehaves on request (latency, errors, timeouts, throughput cap, late,
duplicated and reordered delivery reports, repeated inbound deliveries)."""
from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import InitVar, asdict, dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from integrations.gsm import count
from integrations.smsgateway import BLACKLISTED, BULK_MAX, BULK_PATH, DLR_ORDER, INVALID_PHONE, SEND_PATH, SENT, \
    STATUS_NAMES
from integrations.smsgateway.kept import Kept, Message
from integrations.smsgateway.numbers import valid
from integrations.smsgateway.signing import headers as signed

COST_PER_SEGMENT = 0.05
KEEP = 100_000  # messages kept for lookups (~0.5 KB each); a reference is remembered for ever (~0.15 KB)


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0  # share of sends answered 500, nothing accepted
    timeout_rate: float = 0.0  # share of sends accepted but answered only after `timeout_s`
    timeout_s: float = 5.0
    max_per_second: int = 0  # 0: no cap; above it, 429 and nothing accepted
    dlr_delay_ms: int = 20
    dlr_mix: dict[str, float] = field(default_factory=lambda: {"Success": 1.0})
    duplicate_dlr: float = 0.0  # share of final reports sent twice
    reorder_dlr: bool = False  # final report before the intermediate "Sent"
    repeat_inbound: int = 1  # how many times each inbound message is delivered
    dlr: bool = True  # send delivery reports at all (a bulk benchmark turns them off)


@dataclass
class Gateway:
    """The simulator's state: what it accepted, under which client reference, and its fault switches."""

    username: str
    api_key: str
    callback_url: str = ""  # where delivery reports go
    inbound_url: str = ""  # where subscribers' messages go
    secret: str = ""  # signs both
    faults: Faults = field(default_factory=Faults)
    seed: int = 12580
    keep: InitVar[int] = KEEP  # how many messages `messages` keeps (`messages.keep` afterwards)
    messages: Kept = field(init=False)  # the latest accepted, by id
    by_reference: dict[str, int] = field(default_factory=dict)  # "reference|number": the first message, packed
    blacklist: set[str] = field(default_factory=set)
    submits: int = 0  # send requests received, whatever became of them
    accepted: int = 0  # messages accepted (a repeated reference is not accepted again)
    offered: int = 0  # messages submitted, a repeated reference counted again: a double send shows here
    first_accepted_at: float = 0.0  # wall clock of the first and the latest accept (0: none yet)
    last_accepted_at: float = 0.0

    def __post_init__(self, keep: int) -> None:
        self.rng = random.Random(self.seed)
        self.ids = itertools.count(1)
        self.window: list[float] = []
        self.messages = Kept(keep)
        self.tasks: set[asyncio.Task] = set()
        self.http: aiohttp.ClientSession | None = None  # one connection pool for every callback

    def throttled(self, messages: int = 1) -> bool:
        if not self.faults.max_per_second:
            return False
        now = time.monotonic()
        self.window = [t for t in self.window if now - t < 1.0]
        if len(self.window) + messages > self.faults.max_per_second:
            return True
        self.window += [now] * messages
        return False

    def accept(self, number: str, sender: str, text: str, reference: str) -> dict[str, Any]:
        """One recipient's answer; a reference already seen gets its first message id back."""
        self.offered += 1
        if not valid(number):
            return _recipient(number, INVALID_PHONE)
        if number in self.blacklist:
            return _recipient(number, BLACKLISTED)
        key = f"{reference}|{number}" if reference else ""
        first = self.by_reference.get(key) if key else None
        if first is not None:
            return _recipient(number, SENT, *_unpack(first))
        counted, n, now = count(text), next(self.ids), time.time()
        row = (f"ATXid_{n:08d}", number, sender, text, reference, counted.segments, counted.encoding, DLR_ORDER[0],
               now, self.submits)
        self.messages.add(row)
        if key:
            self.by_reference[key] = _pack(n, counted.segments, counted.encoding)
        self.accepted += 1
        self.first_accepted_at = self.first_accepted_at or now
        self.last_accepted_at = now
        if self.faults.dlr and self.callback_url:
            self._later(self._report(Message(*row)))
        return _recipient(number, SENT, row[0], counted.segments, counted.encoding)

    def _later(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _report(self, message: Message) -> None:
        await asyncio.sleep(self.faults.dlr_delay_ms / 1000)
        statuses, weights = zip(*self.faults.dlr_mix.items())
        final = self.rng.choices(statuses, weights)[0]
        steps = ["Sent", final]
        if self.faults.reorder_dlr:
            steps.reverse()
        if self.rng.random() < self.faults.duplicate_dlr:
            steps.append(final)
        message.status = final
        self.messages.set_status(message.id, final)
        for status in steps:
            await self._post(self.callback_url, {
                "id": message.id, "status": status, "phoneNumber": message.to, "networkCode": "46000",
                "failureReason": "" if status != "Failed" else "DeliveryFailure", "retryCount": "0"})

    async def deliver(self, sender: str, to: str, text: str) -> str:
        """A subscriber's message to our inbound webhook, as often as the fault switch says."""
        message_id = f"ATInbound_{next(self.ids):08d}"
        form = {"id": message_id, "from": sender, "to": to, "text": text,
                "date": time.strftime("%Y-%m-%d %H:%M:%S"), "linkId": message_id, "networkCode": "46000"}
        for _ in range(max(1, self.faults.repeat_inbound)):
            await self._post(self.inbound_url, form)
        return message_id

    async def _post(self, url: str, form: dict[str, str]) -> None:
        if not url:
            return
        body = urlencode(form).encode()  # the exact bytes we sign are the bytes we send
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(signed(self.secret, body) if self.secret else {})}
        if self.http is None or self.http.closed:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self.http.post(url, data=body, headers=hdrs) as r:
                await r.read()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass  # a real gateway retries later; the simulator drops it, and tests see the loss


def _pack(n: int, segments: int, encoding: str) -> int:
    """What a repeated reference is answered with (its first message's id number, segments and encoding)
    in one int: ~40 bytes a reference instead of a kept message."""
    return n << 32 | segments << 1 | (encoding == "UCS-2")


def _unpack(packed: int) -> tuple[str, int, str]:
    return f"ATXid_{packed >> 32:08d}", (packed >> 1) & 0x7FFF_FFFF, "UCS-2" if packed & 1 else "GSM-7"


def _recipient(number: str, code: int, message_id: str = "", segments: int = 0, encoding: str = "") -> dict[str, Any]:
    if not message_id:
        return {"statusCode": code, "number": number, "status": STATUS_NAMES[code], "cost": "0", "messageId": "None"}
    return {"statusCode": code, "number": number, "status": STATUS_NAMES[code], "cost": _cost(segments),
            "messageId": message_id, "segments": segments, "encoding": encoding}


@lru_cache(maxsize=256)
def _cost(segments: int) -> str:
    return f"CNY {segments * COST_PER_SEGMENT:.4f}"


GATEWAY = web.AppKey("gateway", Gateway)


async def send(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    gw.submits += 1
    form = await request.post()
    if request.headers.get("apiKey") != gw.api_key or form.get("username") != gw.username:
        return web.json_response({"error": "The supplied authentication is invalid"}, status=401)
    if gw.faults.latency_ms:
        await asyncio.sleep(gw.faults.latency_ms / 1000)
    if gw.rng.random() < gw.faults.error_rate:
        return web.json_response({"error": "simulated gateway error"}, status=500)
    if gw.throttled():
        return web.json_response({"error": "throughput cap reached"}, status=429)
    to, text = str(form.get("to", "")), str(form.get("message", ""))
    if not to or not text:
        return web.json_response({"error": "to and message are required"}, status=400)
    reference = str(form.get("clientReference", ""))
    recipients = [gw.accept(n.strip(), str(form.get("from", "")), text, reference) for n in to.split(",") if n.strip()]
    if gw.rng.random() < gw.faults.timeout_rate:
        await asyncio.sleep(gw.faults.timeout_s)  # accepted, but the client gives up before the answer
    sent = sum(r["statusCode"] == SENT for r in recipients)
    return web.json_response({"SMSMessageData": {"Message": f"Sent to {sent}/{len(recipients)}",
                                                 "Recipients": recipients}})


async def send_bulk(request: web.Request) -> web.Response:
    """Many messages in one request, each with its own text and client reference (the bulk APIs of
    gateways such as Infobip work this way); answers one recipient entry per message, in order."""
    gw = request.app[GATEWAY]
    gw.submits += 1
    if request.headers.get("apiKey") != gw.api_key:
        return web.json_response({"error": "The supplied authentication is invalid"}, status=401)
    try:
        data = await request.json()
        messages = data["messages"]
        assert data.get("username") == gw.username and isinstance(messages, list) and 0 < len(messages) <= BULK_MAX
    except (ValueError, KeyError, AssertionError):
        return web.json_response({"error": f"username and 1 to {BULK_MAX} messages are required"}, status=400)
    if gw.faults.latency_ms:
        await asyncio.sleep(gw.faults.latency_ms / 1000)
    if gw.rng.random() < gw.faults.error_rate:
        return web.json_response({"error": "simulated gateway error"}, status=500)
    if gw.throttled(len(messages)):
        return web.json_response({"error": "throughput cap reached"}, status=429)
    recipients = []
    for m in messages:
        reference = str(m.get("clientReference", ""))
        entry = gw.accept(str(m.get("to", "")), str(m.get("from", "")), str(m.get("message", "")), reference)
        entry["clientReference"] = reference  # a fresh dict each time: no copy
        recipients.append(entry)
    if gw.rng.random() < gw.faults.timeout_rate:
        await asyncio.sleep(gw.faults.timeout_s)
    return web.json_response({"SMSMessageData": {"Recipients": recipients}})


async def stats(request: web.Request) -> web.Response:
    """Control API: the counters, and the kept messages (the latest `keep`) with their count per reference."""
    gw = request.app[GATEWAY]
    per_reference: dict[str, int] = {}
    for message in gw.messages.values():
        per_reference[message.reference] = per_reference.get(message.reference, 0) + 1
    return web.json_response({"submits": gw.submits, "accepted": gw.accepted, "per_reference": per_reference,
                              "messages": [asdict(m) for m in gw.messages.values()]})


async def counts(request: web.Request) -> web.Response:
    """Control API: the counters and the first and latest accept times, in constant time: a benchmark polls
    it while a million messages arrive, where `/control/stats` would list every one of them."""
    gw = request.app[GATEWAY]
    return web.json_response({"submits": gw.submits, "accepted": gw.accepted, "offered": gw.offered,
                              "first_accepted_at": gw.first_accepted_at, "last_accepted_at": gw.last_accepted_at})


async def handset(request: web.Request) -> web.Response:
    """Control API: what a handset received, in order (`?to=NUMBER`); the console's SMS mode reads it."""
    to = request.query.get("to", "")
    return web.json_response([asdict(m) for m in request.app[GATEWAY].messages.to(to)])


async def set_faults(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    gw.faults = Faults(**{**asdict(gw.faults), **await request.json()})
    return web.json_response(asdict(gw.faults))


async def inject(request: web.Request) -> web.Response:
    """Control API: a handset sends `text` from `from` to the short code `to`."""
    data = await request.json()
    message_id = await request.app[GATEWAY].deliver(str(data["from"]), str(data.get("to", "12580")), str(data["text"]))
    return web.json_response({"id": message_id})


async def blacklist(request: web.Request) -> web.Response:
    request.app[GATEWAY].blacklist.add(str((await request.json())["number"]))
    return web.json_response({"ok": True})


async def _close(app: web.Application) -> None:
    gw = app[GATEWAY]
    for task in list(gw.tasks):
        task.cancel()
    if gw.http is not None:
        await gw.http.close()


def make_gateway_app(gateway: Gateway) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)  # a bulk request of 500 long texts
    app[GATEWAY] = gateway
    app.on_cleanup.append(_close)
    app.router.add_post(SEND_PATH, send)
    app.router.add_post(BULK_PATH, send_bulk)
    app.router.add_get("/control/stats", stats)
    app.router.add_get("/control/counts", counts)
    app.router.add_get("/control/handset", handset)
    app.router.add_post("/control/faults", set_faults)
    app.router.add_post("/control/inbound", inject)
    app.router.add_post("/control/blacklist", blacklist)
    return app
