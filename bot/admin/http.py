"""What every admin handler shares: the app state it reads, the call it is handed (request, authenticated
actor, state), JSON errors `{"error", "reason"}`, and JSON bodies checked by pydantic (400 or 422 naming the
field)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine

from integrations.sqltx import utcnow
from jobs.audit import Actor

M = TypeVar("M", bound=BaseModel)


@dataclass
class AdminState:
    """What the admin handlers need from the app, made by `bot.web`'s cleanup context."""

    db: Engine
    core: Any  # bot.wiring.Core
    services: Any  # the simulated partners (a reminder kind reads them)
    enqueue: Callable[[str, list[int]], None] | None  # hand outbox ids to the senders; None: the re-scan sends
    clock: Callable[[], datetime] = utcnow  # passed in: a test fixes it
    run_campaign: Callable[[int, datetime | None], None] | None = None  # queue a launched campaign's run


ADMIN = web.AppKey("admin", AdminState)


@dataclass
class Call:
    """One authorised request: who makes it, and the app's state."""

    request: web.Request
    actor: Actor

    @property
    def state(self) -> AdminState:
        return self.request.app[ADMIN]


Handler = Callable[[Call], Awaitable[web.Response]]


class Refused(Exception):
    """Raised by a handler to answer an error: `raise Refused(422, "text.en is required")`."""

    def __init__(self, status: int, reason: str, error: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.error = status, reason, error


ERRORS = {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found", 405: "method not allowed",
          409: "conflict", 413: "payload too large", 422: "unprocessable"}


def error(status: int, reason: str, error: str | None = None, **extra: Any) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": error or ERRORS.get(status, "error"), "reason": reason, **extra}
    return web.json_response(body, status=status, headers=headers, dumps=dumps)


def answer(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def body(call: Call, model: type[M]) -> M:
    """The JSON body as `model`: 400 when it is not a JSON object, 422 naming the first wrong field."""
    try:
        raw = await call.request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, f"body larger than {call.request.app._client_max_size} bytes") from None
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Refused(422, f"field '{where}': {first['msg']}") from None
