"""A simulated Telegram Bot API (`shortcode telegram-api`): the methods Shortcode calls under
`/bot<TOKEN>/<method>`, answered in Telegram's JSON shapes and errors, with faults and Telegram's send
limits; updates go to a webhook or wait for getUpdates. A control API under `/control/` acts as users
and reads chats (`integrations/telegram/control.py`)."""
from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import structlog
from aiohttp import web

from integrations.telegram import ApiError
from integrations.telegram.delivery import Updates
from integrations.telegram.faults import SENDING, Limits
from integrations.telegram.methods import METHODS
from integrations.telegram.state import Telegram
from integrations.telegram.timeline import Timeline

log = structlog.get_logger("telegram_api")


@dataclass
class Simulator:
    """One bot's Telegram: its chats, its updates, its faults and what was asked of it."""

    token: str
    clock: Callable[[], float] = time.time  # message dates and webhook error dates
    monotonic: Callable[[], float] = time.monotonic  # the send limits' buckets
    seed: int = 12580
    retry_base_s: float = 0.5
    calls: Counter = field(default_factory=Counter)  # Bot API calls per method, whatever their answer
    errors: Counter = field(default_factory=Counter)  # error answers per "method code"

    def __post_init__(self) -> None:
        self.limits = Limits(self.seed)
        self.timeline = Timeline(self.clock)
        self.updates = Updates(faults=lambda: self.limits.faults, clock=self.clock, retry_base_s=self.retry_base_s,
                               on_first_post=lambda u: self.timeline.add("delivery", update_id=u["update_id"]))
        self.telegram = Telegram(self.token, emit=self.updates.push, clock=self.clock)

    async def call(self, token: str, name: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One Bot API request: (HTTP status, Telegram's JSON answer)."""
        method = METHODS.get(name.lower())
        self.calls[name] += 1
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if method is None:
                raise ApiError(404, "Not Found")
            result = await self._run(name, method, params)
        except ApiError as exc:
            self.errors[f"{name} {exc.code}"] += 1
            return exc.code, exc.body()
        return 200, {"ok": True, "result": result}

    async def _run(self, name: str, method: Callable, params: dict[str, Any]) -> Any:
        faults = self.limits.faults
        if faults.latency_ms and faults.hits(name):
            await asyncio.sleep(faults.latency_ms / 1000)
        refusal = self.limits.refuse(name) or self.limits.throttle(name, params.get("chat_id"), self.monotonic())
        if refusal:
            raise refusal
        result = method(self, params)
        if inspect.isawaitable(result):
            result = await result
        if name.lower() in SENDING:
            self.timeline.add("accepted", method=name, chat_id=result["chat"]["id"], message_id=result["message_id"])
        hold = self.limits.hold(name)
        if hold:
            await asyncio.sleep(hold)  # done, but the client has given up before it hears so
        return result

    def stats(self) -> dict[str, Any]:
        u = self.updates
        ids = sorted(set(u.attempts) | set(u.delivered))
        return {"calls": dict(self.calls), "errors": dict(self.errors), "pending_updates": len(u.pending),
                "deliveries": {str(i): {"attempts": u.attempts[i], "delivered": u.delivered[i]} for i in ids},
                "dropped_updates": list(u.dropped), "webhook": u.webhook.info() if u.webhook else None}


SIMULATOR = web.AppKey("telegram_simulator", Simulator)


async def bot_api(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    try:
        params = await _params(request)
    except ValueError:
        status, body = 400, ApiError(400, "Bad Request: can't parse request body").body()
    else:
        status, body = await sim.call(request.match_info["token"], request.match_info["method"], params)
    if status != 200:
        log.info("bot_api_refused", method=request.match_info["method"], status=status)  # no parameters: they hold texts
    return web.json_response(body, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    """Query string, then a JSON, urlencoded or multipart body: Telegram takes all four."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON body must be an object")
        params.update(body)
    else:
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


async def _close(app: web.Application) -> None:
    await app[SIMULATOR].updates.close()


def make_telegram_app(sim: Simulator, prefix: str = "/bot") -> web.Application:
    """The Bot API under `{prefix}<TOKEN>/<method>` (PTB's base_url is `http://host:port{prefix}`)."""
    from integrations.telegram import control

    app = web.Application(client_max_size=1024 * 1024)
    app[SIMULATOR] = sim
    app.on_cleanup.append(_close)
    path = f"{prefix}{{token}}/{{method}}"
    app.router.add_route("GET", path, bot_api)
    app.router.add_route("POST", path, bot_api)
    control.add_routes(app.router)
    return app
