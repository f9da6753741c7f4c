"""Sending the Telegram outbox: RQ jobs carry only row ids, claim their rows as the SMS sender does, and for
each row answer the press (if any), then edit the pressed message in place or send a new one, within
Telegram's limits (about 30 messages a second per bot, one a second per chat).

A 429 waits its `retry_after` (short ones in the job, longer ones by rescheduling the rows); a 403 (the user
blocked the bot) marks the link inactive and fails the row at once; "message is not modified" is a success;
timeouts and 5xx retry with back-off. Telegram has no client reference: a message Telegram accepted just
before this worker died, before `sent` was committed, is sent again once the claim lapses (see
docs/channels.md). Each row is committed on its own, right after Telegram answers, to keep that window small.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

import structlog
from sqlalchemy import and_, column, insert, or_, select, table, update
from sqlalchemy.engine import Connection, Engine

from integrations.sqltx import utcnow, write
from jobs import gate, outbox, process
from jobs.metrics import count_statuses
from jobs.tables import TelegramOutbox

log = structlog.get_logger()
TO = TelegramOutbox.__table__
# the link tables belong to the runtime (bot/models.py); a job names only the columns it touches
LINK = table("telegram_link", column("user_id"), column("msisdn"), column("chat_id"), column("active"),
             column("notify"))
LINK_EVENT = table("telegram_link_event", column("user_id"), column("msisdn"), column("event"),
                   column("update_id"), column("at"))
# what must reach the subscriber somehow: when Telegram will not take it (blocked, refused, out of attempts),
# it goes by SMS instead, in the transaction that fails the row
FALLBACK = frozenset({"confirmation", "reminder"})
BACKOFF_S = (10, 60, 300)  # waits after the 1st, 2nd and 3rd failed attempt; the 4th failure is final
CLAIM_S = 60
BATCH = 200
MAX_WAIT_S = 10.0  # a retry_after up to this long is waited in the job; a longer one reschedules the rows
CALL_TIMEOUT_S = 30.0
NOT_MODIFIED = "message is not modified"


class Pace:
    """Telegram's send limits, kept in this process: a gap of 1/`per_second` between two sends of the bot,
    `per_chat_s` between two sends to one chat, and a bot-wide pause after a 429."""

    def __init__(self, per_second: float = 30.0, per_chat_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.gap = 1.0 / per_second if per_second > 0 else 0.0
        self.per_chat_s = per_chat_s
        self.clock, self.sleep = clock, sleep
        self._bot = 0.0
        self._chats: dict[int, float] = {}
        self._lock = threading.Lock()

    def ready_at(self, chat_id: int) -> float:
        return max(self._bot, self._chats.get(chat_id, 0.0))

    def wait(self, chat_id: int) -> None:
        """Sleep until a message to this chat may go."""
        while (left := self.ready_at(chat_id) - self.clock()) > 0:
            self.sleep(left)

    def sent(self, chat_id: int) -> None:
        now = self.clock()
        with self._lock:
            self._bot = max(self._bot, now + self.gap)
            self._chats[chat_id] = now + self.per_chat_s
            if len(self._chats) > 10_000:  # forget chats whose gap is over
                self._chats = {c: t for c, t in self._chats.items() if t > now}

    def hold(self, seconds: float) -> None:
        """After a 429: nothing leaves this bot for `seconds`."""
        with self._lock:
            self._bot = max(self._bot, self.clock() + seconds)


class Loop:
    """One event loop in a thread for python-telegram-bot's async client, which is bound to the loop it
    first ran on; RQ's jobs are synchronous and hand it their calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="telegram-bot", daemon=True).start()

    def run(self, coro, timeout: float = CALL_TIMEOUT_S) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@dataclass(frozen=True)
class _Done:
    """How one row ended."""

    row_id: int
    status: str
    error: str = ""
    message_id: int | None = None
    next_attempt_at: datetime | None = None
    refund: bool = False  # a 429: the attempt does not count
    back: bool = False  # deferred for quiet hours: the attempt does not count either


@dataclass
class TelegramSender:
    engine: Engine
    bot: Any  # telegram.Bot(token, base_url=[telegram] api_url)
    pace: Pace = field(default_factory=Pace)
    backoff: tuple[float, ...] = BACKOFF_S
    clock: Callable[[], datetime] = utcnow
    claim_s: float = CLAIM_S
    max_wait_s: float = MAX_WAIT_S
    loop: Loop | None = None
    fell_back: list[int] = field(default_factory=list)  # rows of this process sent on by SMS instead
    gate: gate.Gate = field(default_factory=gate.Gate)  # quiet hours and caps ([reminders])
    deferred: dict[datetime, list[int]] = field(default_factory=dict)  # rows held for quiet hours, by when

    def send(self, ids: Iterable[int]) -> int:
        """Claim and send these rows, paced; returns how many Telegram accepted."""
        from jobs import telegram_calls as calls

        token = secrets.token_hex(8)
        self._claim(list(ids), token)
        rows, blocked, sent = self._claimed(token), set(), 0
        slots: dict[int, gate.Slot] = {}  # cap slots taken in this job: a row retried here keeps its own
        renew_at = time.monotonic() + self.claim_s / 2
        while rows:
            row = min(rows, key=lambda r: self.pace.ready_at(r.chat_id))
            rows.remove(row)
            if time.monotonic() >= renew_at:
                self._renew(token)
                renew_at = time.monotonic() + self.claim_s / 2
            held = None if row.id in slots else self._screen(row, token, slots)
            done = held or self._one(row, blocked, calls)
            if done.status == "pending" and done.refund and done.next_attempt_at is None:
                rows.append(row)  # a short 429: waited by the pace, tried again in this job
                continue
            if done.refund:  # a long 429: the rest waits too, rescheduled for the re-scan
                self._finish(token, [done] + [_Done(r.id, "pending", "flood", None, done.next_attempt_at, True)
                                              for r in rows], slots)
                return sent
            sent += done.status == "sent"
            self._finish(token, [done], slots)
        return sent

    def _screen(self, row, token: str, slots: dict[int, gate.Slot]) -> _Done | None:
        """The gate, right before the send (opt-out, quiet hours, caps): how it held the row, if it did."""
        verdict = self.gate.screen(self.engine, TO, [row], token, self.clock())
        slots.update(verdict.slots)
        gate.logged("telegram", verdict)
        for h in verdict.held:
            if h.status == "pending" and h.next_attempt_at is not None:
                self.deferred.setdefault(h.next_attempt_at, []).append(h.row_id)
            return _Done(h.row_id, h.status, h.error, next_attempt_at=h.next_attempt_at, back=h.status == "pending")
        return None

    def _one(self, row, blocked: set[int], calls) -> _Done:
        if row.chat_id in blocked:
            return _Done(row.id, "failed", "blocked by the user")
        self.pace.wait(row.chat_id)
        try:
            message_id = self._loop().run(calls.deliver(self.bot, row))
        except Exception as exc:
            return self._failed(row, exc, blocked, calls)
        finally:
            self.pace.sent(row.chat_id)
        return _Done(row.id, "sent", message_id=message_id)

    def _failed(self, row, exc: Exception, blocked: set[int], calls) -> _Done:
        kind = calls.classify(exc)
        if kind == "flood":
            wait = calls.retry_after(exc)
            self.pace.hold(wait)
            log.warning("telegram_flood", row=row.id, retry_after=wait)
            later = None if wait <= self.max_wait_s else self.clock() + timedelta(seconds=wait)
            return _Done(row.id, "pending", "flood", next_attempt_at=later, refund=True)
        if kind == "blocked":
            blocked.add(row.chat_id)
            self._blocked(row.chat_id)
            return _Done(row.id, "failed", "blocked by the user")
        if kind == "refused":
            return _Done(row.id, "failed", f"refused: {type(exc).__name__}")
        log.warning("telegram_send_failed", row=row.id, error=type(exc).__name__)
        return self._retry_or_fail(row, f"{kind}: {type(exc).__name__}")

    def _retry_or_fail(self, row, error: str) -> _Done:
        if row.attempts > len(self.backoff):
            return _Done(row.id, "failed", error)
        wait = timedelta(seconds=self.backoff[row.attempts - 1])
        return _Done(row.id, "pending", error, next_attempt_at=self.clock() + wait)

    def _loop(self) -> Loop:
        if self.loop is None:
            self.loop = Loop()
        return self.loop

    # -- the database ---------------------------------------------------------------------------------

    def _claim(self, ids: list[int], token: str) -> None:
        now, limit = self.clock(), len(self.backoff) + 1
        lapsed = and_(TO.c.status == "sending", TO.c.claimed_until < now)

        def claim(conn: Connection) -> None:
            conn.execute(update(TO).where(TO.c.id.in_(ids), lapsed, TO.c.attempts >= limit).values(
                status="failed", claim=None, claimed_until=None, error="no answer after the last attempt"))
            conn.execute(update(TO).where(TO.c.id.in_(ids), or_(
                and_(TO.c.status == "pending", TO.c.next_attempt_at <= now), lapsed)).values(
                status="sending", claim=token, claimed_until=now + timedelta(seconds=self.claim_s),
                attempts=TO.c.attempts + 1))

        write(self.engine, claim)

    def _claimed(self, token: str) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(select(TO).where(TO.c.claim == token, TO.c.status == "sending")
                                     .order_by(TO.c.id)).all())

    def _finish(self, token: str, done: list[_Done], slots: dict[int, gate.Slot] | None = None) -> None:
        """A row that took a cap slot and was not sent gives it back here (a fallback to SMS counts there)."""
        def work(conn: Connection) -> None:
            gate.give_back(conn, [slots[d.row_id] for d in done if slots and d.row_id in slots and d.status != "sent"])
            self._fall_back(conn, token, [d.row_id for d in done if d.status == "failed"])
            for d in done:
                values: dict[str, Any] = dict(status=d.status, error=d.error[:128], claim=None, claimed_until=None)
                if d.message_id is not None:
                    values["telegram_message_id"] = d.message_id
                if d.next_attempt_at is not None:
                    values["next_attempt_at"] = d.next_attempt_at
                if d.refund or d.back:
                    values["attempts"] = TO.c.attempts - 1
                conn.execute(update(TO).where(TO.c.id == d.row_id, TO.c.claim == token).values(**values))

        write(self.engine, work)
        count_statuses("telegram", [d.status for d in done])

    def _fall_back(self, conn: Connection, token: str, failed: list[int]) -> None:
        """A confirmation or reminder Telegram would not take is written to the SMS outbox (once: its cause
        is this row's), so a booking code never stays behind a blocked bot."""
        if not failed:
            return
        rows = conn.execute(select(TO.c.id, TO.c.msisdn, TO.c.text, TO.c.kind, TO.c.topic, TO.c.cap_class).where(
            TO.c.id.in_(failed), TO.c.claim == token, TO.c.kind.in_(FALLBACK), TO.c.msisdn != "")).all()
        for row in rows:  # a reminder keeps its kind and class: the SMS sender gates it as it is
            outbox.add(conn, row.msisdn, row.text, f"tg-fallback:{row.id}", self.clock(), row.kind, row.topic,
                       row.cap_class)
            self.fell_back.append(row.id)
        if rows:
            log.info("telegram_fell_back_to_sms", rows=len(rows))

    def _blocked(self, chat_id: int) -> None:
        """The user blocked the bot: their link is inactive (recorded), so nothing more is sent to it."""
        now = self.clock()

        def work(conn: Connection) -> None:
            links = conn.execute(select(LINK.c.user_id, LINK.c.msisdn).where(
                LINK.c.chat_id == chat_id, LINK.c.active == True)).all()  # noqa: E712
            for link in links:
                conn.execute(update(LINK).where(LINK.c.user_id == link.user_id).values(active=False))
                conn.execute(insert(LINK_EVENT).values(user_id=link.user_id, msisdn=link.msisdn, event="blocked",
                                                       update_id=None, at=now))

        write(self.engine, work)

    def _renew(self, token: str) -> None:
        until = self.clock() + timedelta(seconds=self.claim_s)
        write(self.engine, lambda conn: conn.execute(
            update(TO).where(TO.c.claim == token, TO.c.status == "sending").values(claimed_until=until)))

    def due(self, limit: int = 10_000) -> list[int]:
        """Rows a job should take now: pending and due, or claimed by a job that never finished."""
        now = self.clock()
        with self.engine.connect() as conn:
            return list(conn.execute(select(TO.c.id).where(or_(
                and_(TO.c.status == "pending", TO.c.next_attempt_at <= now),
                and_(TO.c.status == "sending", TO.c.claimed_until < now))).order_by(TO.c.id).limit(limit)).scalars())


def chat_for(conn: Connection, msisdn: str) -> int | None:
    """The chat a subscriber chose for their confirmations and reminders (`/notify`), while its link is active;
    None: by SMS."""
    return conn.execute(select(LINK.c.chat_id).where(LINK.c.msisdn == msisdn, LINK.c.active == True,  # noqa: E712
                                                     LINK.c.notify == True)).scalar()  # noqa: E712


def send_telegram(ids: list[int]) -> int:
    """RQ job: send these telegram_outbox rows; what fell back to SMS is queued for the SMS sender at once."""
    sender = process.telegram()
    sent = sender.send(ids)
    outbox.schedule_deferred(sender.deferred, send_telegram)
    if sender.fell_back:
        _queue_fallbacks(sender)
    return sent


def _queue_fallbacks(sender: "TelegramSender") -> None:
    """Hand the SMS rows written for failed Telegram rows to this job's queue (the SMS re-scan would find
    them too, a little later)."""
    from rq import Queue, get_current_job

    failed, sender.fell_back[:] = list(sender.fell_back), []
    causes = [f"tg-fallback:{i}" for i in failed]
    with sender.engine.connect() as conn:
        ids = list(conn.execute(select(outbox.O.c.id).where(outbox.O.c.cause.in_(causes))).scalars())
    job = get_current_job()
    if job is not None and ids:
        outbox.enqueue(Queue(job.origin, connection=job.connection), ids)


def enqueue(queue, ids: list[int]) -> None:
    for start in range(0, len(ids), BATCH):
        queue.enqueue(send_telegram, ids[start:start + BATCH])


def rescan() -> int:
    """RQ job: queue every Telegram row that is due or whose claim lapsed; losing Redis loses no message."""
    from rq import Queue, get_current_job

    job = get_current_job()
    due = process.telegram().due()
    enqueue(Queue(job.origin, connection=job.connection), due)
    return len(due)


def markup_of(data: str):
    """reply_markup as python-telegram-bot's object, from the row's Bot API JSON."""
    from telegram import ForceReply, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

    if not data:
        return None
    found = json.loads(data)
    for key, kind in (("inline_keyboard", InlineKeyboardMarkup), ("keyboard", ReplyKeyboardMarkup),
                      ("remove_keyboard", ReplyKeyboardRemove), ("force_reply", ForceReply)):
        if key in found:
            return kind.de_json(found, None)
    raise ValueError("unknown reply_markup")
