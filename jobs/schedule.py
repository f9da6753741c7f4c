"""The table of periodic jobs (what runs when), the slots of a schedule, and `later` for deferred jobs.

`jobs/scheduler.py` queues each entry on RQ's cron scheduler. Other modules add entries with `@provide`
(the reminders add one per kind); the module that does so is named in `ENTRY_MODULES`, so every
scheduler process imports it.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping
from zoneinfo import ZoneInfo

from croniter import croniter

if TYPE_CHECKING:
    from rq import Queue
    from rq.job import Job

EVERY = re.compile(r"every\s+(\d+)\s*(s|m|h)", re.IGNORECASE)
UNIT_S = {"s": 1, "m": 60, "h": 3600}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class When:
    """A schedule: five cron fields read in a time zone, or a fixed interval (slots at multiples of it
    since the epoch, so every scheduler process agrees on them)."""

    text: str
    tz: ZoneInfo
    every: int = 0  # seconds; 0 for a cron schedule

    def latest(self, now: datetime) -> datetime:
        """The last slot at or before `now` (UTC)."""
        if self.every:
            return EPOCH + timedelta(seconds=(now - EPOCH) // timedelta(seconds=self.every) * self.every)
        return croniter(self.text, (now + TICK).astimezone(self.tz)).get_prev(datetime).astimezone(timezone.utc)

    def after(self, now: datetime) -> datetime:
        """The first slot after `now` (UTC)."""
        if self.every:
            return self.latest(now) + timedelta(seconds=self.every)
        return croniter(self.text, now.astimezone(self.tz)).get_next(datetime).astimezone(timezone.utc)


def parse_when(text: str, tz: str | ZoneInfo = "UTC") -> When:
    """`"every 30s"`, `"every 5m"`, `"every 1h"`, or five cron fields (`"5 0 1 12 *"`) in `tz`."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    if match := EVERY.fullmatch(text.strip()):
        seconds = int(match[1]) * UNIT_S[match[2].lower()]
        if seconds < 1:
            raise ValueError(f"{text!r}: an interval must be at least 1 s")
        return When(text, zone, seconds)
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(f"{text!r} is neither five cron fields (\"5 0 1 12 *\") nor \"every N s|m|h\"")
    return When(text, zone)


@dataclass(frozen=True)
class Periodic:
    """One periodic job: `func(**kwargs, **per_slot(slot))` queued at every slot of `when`.

    `per_slot` gets the slot in the operator's time zone and returns the arguments that depend on it
    (the cycle a points expiry closes, the period of a reminder run). Arguments are plain values: RQ
    keeps them in Redis."""

    name: str
    func: Callable[..., Any]
    when: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    per_slot: Callable[[datetime], Mapping[str, Any]] | None = None
    timeout: int | None = None  # seconds a run may take (RQ's default otherwise: 180)

    def arguments(self, slot: datetime) -> dict[str, Any]:
        return {**self.kwargs, **(self.per_slot(slot) if self.per_slot else {})}


Provider = Callable[[Any], list[Periodic]]
PROVIDERS: list[Provider] = []
ENTRY_MODULES: tuple[str, ...] = ("jobs.reminder_schedule", "jobs.churn", "jobs.campaign_run")  # modules whose
# import adds providers (the reminders' kinds, the weekly churn scoring, the re-scan of campaign runs)
ENTRY_MODULES += ("jobs.purge",)  # the retention purge ([retention])


def provide(provider: Provider) -> Provider:
    """Decorator: `provider(settings)` adds entries to the table."""
    PROVIDERS.append(provider)
    return provider


def periodic(settings: Any) -> list[Periodic]:
    """Every periodic job for these settings (`bot.settings.Settings`): ours, then the providers'."""
    for module in ENTRY_MODULES:
        importlib.import_module(module)
    entries = _ours(settings) + [entry for provider in PROVIDERS for entry in provider(settings)]
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"periodic job names must be unique: {sorted(names)}")
    return entries


def _ours(settings: Any) -> list[Periodic]:
    """The outbox re-scans, the reconciler and the end of the points cycle."""
    from jobs import outbox, telegram
    from jobs.points_expiry import expire_cycle
    from jobs.reconcile import reconcile_job

    s = settings.schedule
    entries = [Periodic("outbox-rescan", outbox.rescan, s.outbox_rescan)]
    if settings.telegram.token:  # without a token nothing can be sent to Telegram
        entries.append(Periodic("telegram-rescan", telegram.rescan, s.telegram_rescan))
    return entries + [Periodic("reconcile", reconcile_job, s.reconcile),
                      Periodic("points-expiry", expire_cycle, s.points_expiry, per_slot=cycle_ended)]


def cycle_ended(slot: datetime) -> dict[str, str]:
    """The points cycle (December to November) that ended last on the slot's day: Nov 30 of this year
    from Nov 30 on, else of the year before."""
    day = slot.date()
    year = day.year if day >= date(day.year, 11, 30) else day.year - 1
    return {"cycle_end": date(year, 11, 30).isoformat()}


def later(queue: Queue, when: datetime | timedelta, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
    """Queue `func(*args)` to run at `when` (an aware time) or after it (a delay). It waits in RQ's
    scheduled registry; workers run RQ's scheduler, which moves it to the queue when it is due."""
    if isinstance(when, timedelta):
        return queue.enqueue_in(when, func, *args, **kwargs)
    if when.tzinfo is None:
        raise ValueError("later() needs an aware time: a naive one would be read in the worker's zone")
    return queue.enqueue_at(when, func, *args, **kwargs)
