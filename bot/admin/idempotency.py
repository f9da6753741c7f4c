"""Idempotency-Key for create and launch routes (`@idempotent` on a handler): the same agent, key, route
and body replay the first answer (`Idempotent-Replayed: true`); the same key with another body is 409.
Concurrent requests with one key run the work once: the key's row is inserted first (`INSERT ... ON
CONFLICT DO NOTHING`), the one whose insert took effect works, the others poll briefly for its answer. A
5xx or an exception is not kept: the row is removed so a retry can run."""
from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.admin.http import Call, Handler, Refused, error
from bot.admin.tables import IdempotencyKey
from integrations.sqltx import utc, write

K = IdempotencyKey.__table__
HEADER = "Idempotency-Key"
WAIT_S = 10.0  # how long a repeat waits for the first request's answer before a 409 "in progress"
POLL_S = 0.05
STALE_S = 120.0  # an answer never stored (its process died mid-work): the key may run again after this


def idempotent(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def run(call: Call) -> web.Response:
        key = call.request.headers.get(HEADER)
        if key is None:
            return await handler(call)
        if not (1 <= len(key) <= 128 and key.isprintable() and key.isascii()):
            return error(400, f"{HEADER} must be 1-128 printable ASCII characters")
        return await Keyed(call, key, handler).answer()

    return run


class Keyed:
    """One request with a key: claim the key and work, or wait for the answer of the one who did."""

    def __init__(self, call: Call, key: str, handler: Handler) -> None:
        self.call, self.key, self.handler = call, key, handler
        request = call.request
        self.route = f"{request.method} {request.match_info.route.resource.canonical}"[:96]
        self.ids = {"agent": call.actor.name, "key": key, "route": self.route}
        self.db: Engine = call.state.db

    async def answer(self) -> web.Response:
        try:
            body = await self.call.request.read()
        except web.HTTPRequestEntityTooLarge:
            return error(413, "body too large")
        self.sha = _fingerprint(self.call.request, body)
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while True:
            if await asyncio.to_thread(self._claim, self.call.state.clock()):
                return await self._work()
            row = await asyncio.to_thread(self._read)
            if row is not None and row.body_sha256 != self.sha:
                return error(409, f"{HEADER} '{self.key}' was used with another request body on {self.route}")
            if row is not None and row.status is not None:
                return _replay(row.status, row.response or "")
            if asyncio.get_running_loop().time() > deadline:
                return error(409, f"a request with {HEADER} '{self.key}' is still in progress: retry later")
            await asyncio.sleep(POLL_S)

    def _claim(self, now: datetime) -> bool:
        """Insert the key's row, or take over one left in progress for too long; True when ours."""
        def work(conn: Connection) -> bool:
            conn.execute(delete(K).where(*self._is(), K.c.status.is_(None),
                                         K.c.created_at < utc(now - timedelta(seconds=STALE_S))))
            ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(K)
            done = conn.execute(ins.values(**self.ids, body_sha256=self.sha, created_at=utc(now))
                                .on_conflict_do_nothing(index_elements=["agent", "key", "route"]).returning(K.c.key))
            return done.first() is not None  # rowcount is not reliable here with psycopg

        return write(self.db, work)

    def _is(self):
        return K.c.agent == self.ids["agent"], K.c.key == self.key, K.c.route == self.route

    def _read(self):
        with self.db.connect() as conn:
            return conn.execute(select(K).where(*self._is())).first()

    async def _work(self) -> web.Response:
        try:
            try:
                response = await self.handler(self.call)
            except Refused as exc:
                response = error(exc.status, exc.reason, exc.error)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._forget))
            raise
        if response.status >= 500 or not isinstance(response, web.Response):
            await asyncio.to_thread(self._forget)
            return response
        text = response.text or ""
        await asyncio.to_thread(self._store, response.status, text)
        return response

    def _store(self, status: int, text: str) -> None:
        write(self.db, lambda conn: conn.execute(update(K).where(*self._is()).values(status=status, response=text)))

    def _forget(self) -> None:
        write(self.db, lambda conn: conn.execute(delete(K).where(*self._is(), K.c.status.is_(None))))


def _fingerprint(request: web.Request, body: bytes) -> str:
    """The request's identity: method, path (a key reused for another subscriber is another request) and
    body, JSON compared by meaning (key order and spacing do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + canonical).hexdigest()


def _replay(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="application/json",
                        headers={"Idempotent-Replayed": "true"})
