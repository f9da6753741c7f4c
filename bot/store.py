"""Sessions in Redis: one key per subscriber, a per-subscriber lock, versioned writes.

A turn costs two round trips: one script takes the lock and reads the session, another writes the
session (refusing a stale version) and releases the lock. Concurrent turns share them (`bot/pipelined.py`).
"""
from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from dataclasses import dataclass
from typing import Iterator

import structlog
from redis.asyncio import Redis

from bot.msisdn import mask
from bot.engine.session import Session, dumps, loads
from bot.pipelined import Pipelined

log = structlog.get_logger()

# KEYS: lock, session. ARGV: token, lock ttl ms. Returns nil when locked, "" when there is no session.
_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local v = redis.call('GET', KEYS[2])
if not v then return '' end
return v
"""

# KEYS: lock, session. ARGV: token, version read, new value, ttl s. 1 saved, 0 refused as stale.
_SAVE = """
local cur = redis.call('GET', KEYS[2])
local ok = 1
if cur and string.match(cur, '^(%d+)|') ~= ARGV[2] then ok = 0 end
if ok == 1 then redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return ok
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Busy(Exception):
    """Another input of the same subscriber held the lock for longer than we wait."""


class StaleSession(Exception):
    """The session changed since it was read: this write would lose the other one."""


@dataclass
class Held:
    """A lock held on a subscriber's session, with the session as it was read."""

    msisdn: str
    token: str
    session: Session | None

    @property
    def version(self) -> int:
        return self.session.version if self.session else 0


class SessionStore:
    def __init__(self, redis: Redis, prefix: str = "sc:", ttl_s: int = 600, lock_ttl_ms: int = 5000,
                 lock_wait_ms: int = 3000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.lock_ttl_ms = lock_ttl_ms
        self.lock_wait_ms = lock_wait_ms
        self._acquire = redis.register_script(_ACQUIRE)
        self._save = redis.register_script(_SAVE)
        self._release = redis.register_script(_RELEASE)
        self._pipelined = Pipelined(redis)  # the scripts of concurrent turns share a round trip
        self._pending: set[asyncio.Task] = set()  # background releases, referenced until done

    def keys(self, msisdn: str) -> list[str]:
        return [f"{self.prefix}lock:{msisdn}", f"{self.prefix}s:{msisdn}"]

    async def acquire(self, msisdn: str) -> Held:
        """Lock the subscriber's session and read it, waiting a bounded time for another turn."""
        token = next(_TOKENS)
        keys = self.keys(msisdn)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_wait_ms / 1000
        delay = 0.005
        while True:
            attempt = asyncio.ensure_future(self._pipelined.script(self._acquire, keys, [token, self.lock_ttl_ms]))
            try:
                raw = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                # the reply timeout struck while the script was on its way: it may still take the lock,
                # which nobody would release for lock_ttl_ms; release it as soon as the answer is in
                attempt.add_done_callback(lambda done: self._release_if_taken(done, msisdn, token))
                raise
            if raw is not None:
                return Held(msisdn, token, _decode(raw) if raw else None)
            if loop.time() >= deadline:
                raise Busy(mask(msisdn))  # exception texts reach logs and RQ records
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def save(self, held: Held, session: Session) -> Session:
        """Write the session as version+1 and release the lock; StaleSession if it moved on."""
        saved = session.evolve(version=held.version + 1)
        value = f"{saved.version}|{dumps(saved)}"
        args = [held.token, held.version, value, self.ttl_s]
        ok = await self._pipelined.script(self._save, self.keys(held.msisdn), args)
        if not ok:
            raise StaleSession(mask(held.msisdn))
        return saved

    async def release(self, held: Held) -> None:
        """Release the lock without writing (a replayed hop, an error)."""
        await self._pipelined.script(self._release, self.keys(held.msisdn), [held.token])

    def release_later(self, held: Held) -> None:
        """Release in the background: a cancelled turn must answer now, not after Redis does."""
        task = asyncio.get_running_loop().create_task(self.release(held))
        self._pending.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Task) -> None:
        """A release that failed (Redis away) leaves the lock to its TTL: logged, not left unretrieved."""
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("lock_release_failed", error=type(task.exception()).__name__)

    def _release_if_taken(self, attempt: asyncio.Future, msisdn: str, token: str) -> None:
        if not attempt.cancelled() and attempt.exception() is None and attempt.result() is not None:
            self.release_later(Held(msisdn, token, None))

    async def peek(self, msisdn: str) -> Session | None:
        """Read a session without locking (tests and the simulator's status line)."""
        [raw] = await self._pipelined(("GET", self.keys(msisdn)[1]))
        return _decode(raw) if raw else None


def _tokens() -> Iterator[str]:
    """Lock tokens only need to differ between holders: a random prefix per process and a counter (a
    system-random token per turn cost a getrandom call, ~5 % of a reply's CPU in a burst)."""
    prefix = secrets.token_hex(6)
    return (f"{prefix}{n:x}" for n in itertools.count())


def _renew_tokens() -> None:
    global _TOKENS
    _TOKENS = _tokens()


_TOKENS = _tokens()
os.register_at_fork(after_in_child=_renew_tokens)  # a forked child draws its own prefix


def _decode(raw: bytes | str) -> Session:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return loads(text.split("|", 1)[1])
