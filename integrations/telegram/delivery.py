"""Getting updates to the bot, as Telegram does: kept for `getUpdates` (long polling; an offset confirms
the earlier ones), or, once a webhook is set, POSTed to it with the secret token header and retried with
back-off until it answers 2xx (each one possibly delivered several times, by the fault switch)."""
from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
import structlog

from integrations.telegram import DEFAULT_UPDATES, SECRET_HEADER, other_poll, webhook_active
from integrations.telegram.faults import Faults

log = structlog.get_logger("telegram_api")


@dataclass
class Webhook:
    url: str
    secret_token: str = ""
    max_connections: int = 40
    last_error_date: int = 0
    last_error_message: str = ""

    def info(self) -> dict[str, Any]:
        body: dict[str, Any] = {"url": self.url, "has_custom_certificate": False, "max_connections": self.max_connections}
        if self.last_error_date:
            body.update(last_error_date=self.last_error_date, last_error_message=self.last_error_message)
        return body


@dataclass
class Updates:
    """Unconfirmed updates in update_id order, and how each was delivered."""

    faults: Callable[[], Faults]
    clock: Callable[[], float]
    retry_base_s: float = 0.5  # first webhook retry; doubles each time up to retry_max_s
    retry_max_s: float = 30.0
    max_attempts: int = 10  # Telegram gives up "after a reasonable amount of attempts"
    delivery_timeout_s: float = 10.0
    pending: list[dict] = field(default_factory=list)
    allowed: frozenset[str] = DEFAULT_UPDATES
    webhook: Webhook | None = None
    attempts: Counter = field(default_factory=Counter)  # POSTs per update_id
    delivered: Counter = field(default_factory=Counter)  # 2xx answers per update_id
    dropped: list[int] = field(default_factory=list)  # given up after max_attempts
    on_first_post: Callable[[dict], None] = lambda update: None  # an update's first POST to a webhook begins

    def __post_init__(self) -> None:
        self.changed = asyncio.Event()
        self.poll = 0  # which getUpdates call is the live one
        self.sending: set[int] = set()
        self.posted: set[int] = set()  # update_ids POSTed at least once
        self.tasks: set[asyncio.Task] = set()
        self.http: aiohttp.ClientSession | None = None
        self.slots: asyncio.Semaphore | None = None

    def push(self, update: dict) -> None:
        self.pending.append(update)
        self._wake()
        if self.webhook:
            self._send(update)

    def set_allowed(self, allowed: Any) -> None:
        """An empty or absent list means the default types, as for Telegram."""
        if allowed is not None:
            self.allowed = frozenset(allowed) or DEFAULT_UPDATES

    def forget(self) -> None:
        """drop_pending_updates: every unconfirmed update is gone."""
        self.pending.clear()

    # -- getUpdates ----------------------------------------------------------------------------------

    async def get(self, offset: int | None, limit: int, timeout: float) -> list[dict]:
        """Confirm what precedes `offset`, then answer at most `limit` updates, waiting up to `timeout`
        seconds for one; a newer call ends this one with 409, as does a webhook set meanwhile."""
        if self.webhook:
            raise webhook_active()
        self.poll += 1
        mine, loop = self.poll, asyncio.get_running_loop()
        self._wake()  # an older call still waiting hears it is superseded
        self._confirm(offset)
        deadline = loop.time() + timeout
        while True:
            ready = self._wanted()[:limit]
            if ready or loop.time() >= deadline:
                return ready
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                pass
            if self.poll != mine:
                raise other_poll()
            if self.webhook:
                raise webhook_active()

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            self.pending = self.pending[offset:]
        else:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]

    def _wanted(self) -> list[dict]:
        """Pending updates of a type the bot asked for; the others are dropped, as Telegram drops them."""
        self.pending = [u for u in self.pending if _kind(u) in self.allowed]
        return self.pending

    def _wake(self) -> None:
        self.changed.set()

    # -- webhook -------------------------------------------------------------------------------------

    def set_webhook(self, webhook: Webhook | None) -> None:
        self.webhook = webhook
        self._wake()
        if webhook:
            self.slots = asyncio.Semaphore(webhook.max_connections)
            for update in list(self.pending):
                self._send(update)

    def _send(self, update: dict) -> None:
        """One delivery task per update and webhook: a task for a webhook since replaced stops by itself."""
        key = (update["update_id"], id(self.webhook))
        if key in self.sending:
            return
        self.sending.add(key)
        task = asyncio.get_running_loop().create_task(self._deliver(update, key))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, update: dict, key: tuple[int, int]) -> None:
        """Deliver until a 2xx, then the fault switch's extra copies; give up after `max_attempts`."""
        try:
            if not _kind(update) in self.allowed:
                self._done(update)
                return
            faults = self.faults()
            copies = max(1, faults.duplicate_updates)
            if faults.duplicate_concurrently and copies > 1:
                results = await asyncio.gather(*(self._until_delivered(update) for _ in range(copies)))
            else:
                results = [await self._until_delivered(update)]
                for _ in range(copies - 1 if results[0] else 0):
                    results.append(await self._until_delivered(update))
            if any(results):
                self._done(update)
        finally:
            self.sending.discard(key)

    async def _until_delivered(self, update: dict) -> bool:
        webhook, delay = self.webhook, self.retry_base_s
        for attempt in range(1, self.max_attempts + 1):
            if self.webhook is not webhook or webhook is None:
                return False  # deleted or replaced: it waits for getUpdates or the new webhook
            if await self._post(webhook, update):
                return True
            log.info("webhook_delivery_failed", update_id=update["update_id"], attempt=attempt,
                     error=webhook.last_error_message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_s)
        if webhook is self.webhook and update["update_id"] not in self.dropped:
            log.warning("webhook_update_dropped", update_id=update["update_id"], attempts=self.max_attempts)
            self.dropped.append(update["update_id"])
            self._done(update)
        return False

    async def _post(self, webhook: Webhook, update: dict) -> bool:
        if self.http is None or self.http.closed:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.delivery_timeout_s))
        headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        self.attempts[update["update_id"]] += 1
        try:
            async with (self.slots or asyncio.Semaphore()):
                if update["update_id"] not in self.posted:  # now, not while waiting for a connection slot
                    self.posted.add(update["update_id"])
                    self.on_first_post(update)
                async with self.http.post(webhook.url, json=update, headers=headers) as response:
                    await response.read()
                    ok, error = 200 <= response.status < 300, f"Wrong response from the webhook: " \
                                                                 f"{response.status} {response.reason}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            ok, error = False, _why(exc)
        if ok:
            self.delivered[update["update_id"]] += 1
        else:
            webhook.last_error_date, webhook.last_error_message = int(self.clock()), error
        return ok

    def _done(self, update: dict) -> None:
        self.pending = [u for u in self.pending if u["update_id"] != update["update_id"]]

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.close()


def _kind(update: dict) -> str:
    return next(k for k in update if k != "update_id")


def _why(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "Read timeout expired"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "Connection refused"
    return f"Connection error: {type(exc).__name__}"
