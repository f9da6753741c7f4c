"""Reminder runs: for a kind and a moment, select who is due through the partners, render each reminder in
the subscriber's language, and write it once (cause `rem:<kind>:<occasion>:<msisdn>`) to the SMS outbox or
the Telegram chat the subscriber chose, in batches, then hand the new rows to the send queue in batches.
Quiet hours and caps are decided at send time; opt-outs are counted here and not written."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from itertools import islice
from typing import Any, Callable, Iterator, Mapping
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.engine import Engine

from integrations.sqltx import utcnow
from jobs import process
from jobs import reminder_write as store
from jobs.reminder_kinds import Kind
from jobs.reminder_select import Due, Selection, due, period, recipients
from jobs.reminder_values import message

log = structlog.get_logger()
BATCH = 1000  # subscribers per transaction: one multi-row insert per outbox
Enqueue = Callable[[str, list[int]], None]  # ("sms" | "telegram", new row ids)


@dataclass(frozen=True)
class Reminders:
    """What a worker lends reminder jobs besides the database and partners: the kinds and the zones."""

    kinds: Mapping[str, Kind]
    timezone: str = "Asia/Shanghai"  # the operator's: daily kinds run on its calendar days
    default_timezone: str = "Asia/Shanghai"  # a subscriber's without one of their own


@dataclass
class Counts:
    """A run's outcome. Deferred (quiet hours) and capped are decided at send time by the gate."""

    key: str = ""
    selected: int = 0  # due now
    queued: int = 0  # new rows written and handed to the send queue
    suppressed: int = 0  # opted out: not written
    already: int = 0  # written before (a repeat, a resumed or a racing run)
    skipped: int = 0  # no such subscriber, or nothing to offer them (no renewal price at their tier)
    telegram: int = 0  # of the queued, how many go to a Telegram chat
    sample: list[str] = field(default_factory=list)  # a dry run: the first texts it would send


def _chunks(items: Iterator[Due], size: int) -> Iterator[list[Due]]:
    while batch := list(islice(items, size)):
        yield batch


@dataclass
class Run:
    """One run of one kind at one moment."""

    kind: Kind
    now: datetime
    engine: Engine
    services: Any
    catalogs: Any
    setup: Reminders
    msisdn: str | None = None  # one subscriber only (a care agent's trigger)
    dry_run: bool = False
    enqueue: Enqueue | None = None  # None: the outbox re-scan picks the rows up
    progress: Callable[[Counts], None] | None = None
    batch: int = BATCH

    def __post_init__(self) -> None:
        zone = ZoneInfo(self.setup.timezone)
        self.sel = Selection(self.services, self.engine, zone, self.setup.default_timezone)
        self.period = period(self.kind, self.now, zone)
        self.counts = Counts(key=f"{self.kind.name}:{self.period}")

    def __call__(self) -> Counts:
        record = not self.dry_run and self.msisdn is None
        if self.kind.trigger == "roaming":
            self.sel.roaming_after = store.cursor(self.engine, self.kind)
        if record:
            store.start_run(self.engine, self.kind, self.period, self.now)
        selected = (d for d in due(self.sel, self.kind, self.now) if self.msisdn in (None, d.msisdn))
        for batch in _chunks(selected, self.batch):
            self._batch(batch)
            if self.progress:
                self.progress(self.counts)
        if record:
            c = self.counts
            store.finish_run(self.engine, self.kind, self.period, self.now, c.selected, c.queued, c.suppressed)
        if self.kind.trigger == "roaming" and not self.dry_run and self.msisdn is None and self.sel.roaming_last:
            store.save_cursor(self.engine, self.kind, self.sel.roaming_last, self.now)
        log.info("reminder_run", **{k: v for k, v in asdict(self.counts).items() if k != "sample"})
        return self.counts

    def _batch(self, batch: list[Due]) -> None:
        c = self.counts
        c.selected += len(batch)
        whom = recipients(self.engine, {d.msisdn for d in batch}, self.setup.default_timezone)
        with self.engine.connect() as conn:
            stopped = store.opted_out(conn, whom)
            chats = store.chats_for(conn, whom)
            old = store.written(conn, [store.cause(self.kind, d.occasion, d.msisdn) for d in batch])
        rows = []
        for d in batch:
            row = self._row(d, whom.get(d.msisdn), stopped, chats, old)
            if row is not None:
                rows.append(row)
        if self.dry_run:
            c.queued += len(rows)
            c.telegram += sum(r.chat_id is not None for r in rows)
            c.sample += [r.text for r in rows[:3 - len(c.sample)]] if len(c.sample) < 3 else []
            return
        sms, tg = store.write_rows(self.engine, self.kind, rows, self.now) if rows else ([], [])
        c.queued += len(sms) + len(tg)
        c.telegram += len(tg)
        c.already += len(rows) - len(sms) - len(tg)
        if self.enqueue:
            self.enqueue("sms", sms) if sms else None
            self.enqueue("telegram", tg) if tg else None

    def _row(self, d: Due, who, stopped: set[str], chats: dict[str, int], old: set[str]) -> store.Row | None:
        c, key = self.counts, store.cause(self.kind, d.occasion, d.msisdn)
        if who is None:
            c.skipped += 1
            return None
        if d.msisdn in stopped:
            c.suppressed += 1
            return None
        if key in old:
            c.already += 1
            return None
        text = message(self.kind, d.data, who)
        if text is None:
            c.skipped += 1
            return None
        return store.Row(d.msisdn, key, self.catalogs.render(who.language, text), chats.get(d.msisdn), d.data)


def run(kind: Kind, now: datetime, engine: Engine, services: Any, catalogs: Any, setup: Reminders,
        **options: Any) -> Counts:
    """Run a kind at `now` (passed in: tests and `--at` fix it); see `Run` for the options."""
    return Run(kind, now, engine, services, catalogs, setup, **options)()


def queue_sender(queue) -> Enqueue:
    """Hand new rows to the senders' jobs in batches."""
    from jobs import outbox, telegram

    def enqueue(channel: str, ids: list[int]) -> None:
        (telegram.enqueue if channel == "telegram" else outbox.enqueue)(queue, ids)

    return enqueue


def run_reminder(kind: str, at: str | None = None) -> dict[str, Any]:
    """RQ job (the scheduler's entry for a kind): run it now, or at the ISO moment `at`."""
    from rq import Queue, get_current_job

    setup = process.reminders()
    now = datetime.fromisoformat(at) if at else utcnow()
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)  # a moment without an offset is UTC
    job = get_current_job()
    enqueue = queue_sender(Queue(job.origin, connection=job.connection)) if job else None
    counts = run(setup.kinds[kind], now, process.engine(), process.services(), process.catalogs(), setup,
                 enqueue=enqueue)
    return {k: v for k, v in asdict(counts).items() if k != "sample"}
