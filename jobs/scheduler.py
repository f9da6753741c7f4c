"""The periodic jobs on RQ's cron scheduler (`rq.cron`), each slot queued once.

RQ's `CronScheduler` reads cron fields in the host's time zone, runs an interval job at once on every
start, forgets what it queued when restarted, skips a slot it was down for, and ends on the first Redis
error. Ours keeps its registration, heartbeat and monitoring records and changes when a job is due:
the slots are read in the operator's time zone (`[service] timezone`), the latest slot not yet queued is
queued if it is at most `[schedule] catch_up` seconds old, and under a job id of its own
(`periodic_<queue>_<name>_<slot>`) with RQ's `unique=True`, so a restarted scheduler, or a second one,
cannot queue a slot twice. A Redis outage is logged once, backed off, and outlived.
"""
from __future__ import annotations

import logging
import re
import threading
from contextlib import suppress
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import redis
import structlog
from rq import Callback, Queue
from rq.cron import CronJob, CronScheduler, get_cron_job_history_key
from rq.exceptions import DuplicateJobError
from rq.job import Job

from jobs.metrics import SCHEDULE_DONE, SCHEDULE_FAILURES, SCHEDULE_QUEUED, now as metrics_now
from jobs.schedule import Periodic, parse_when, periodic
from jobs.worker import Outage

log = structlog.get_logger()
Clock = Callable[[], datetime]
NOT_IN_ID = re.compile(r"[^A-Za-z0-9_-]")
KEEP_AFTER_CATCH_UP_S = 3600  # a slot's job record outlives its catch-up window by this much


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def job_id(queue: str, name: str, slot: datetime) -> str:
    """The id of one slot's job (RQ allows letters, digits, `_` and `-`)."""
    return NOT_IN_ID.sub("-", f"periodic_{queue}_{name}_{slot.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}")


def periodic_failed(job: Job, connection: Any, kind: type, value: BaseException, tb: Any) -> None:
    """RQ's failure callback: the job's name, slot and exception type (never its message, which may
    carry a number), so a failing periodic job is seen; its next slot is queued all the same."""
    log.error("periodic_job_failed", job=job.meta.get("periodic"), slot=job.meta.get("slot"), error=kind.__name__)
    SCHEDULE_FAILURES.labels(job.meta.get("periodic") or "unknown").inc()


def periodic_done(job: Job, connection: Any, result: Any, *args: Any) -> None:
    """RQ's success callback: when each periodic job last finished (shortcode_schedule_last_success_...)."""
    SCHEDULE_DONE.labels(job.meta.get("periodic") or "unknown").set(metrics_now())


class SlotJob(CronJob):
    """One entry of the table as RQ's `CronJob`, due by slot (see the module's docstring)."""

    def __init__(self, entry: Periodic, queue: str, tz: ZoneInfo, catch_up: float, clock: Clock) -> None:
        self.entry, self.tz, self.clock = entry, tz, clock
        self.when = parse_when(entry.when, tz)
        self.catch_up = timedelta(seconds=catch_up)
        self.done: datetime | None = None  # the last slot queued (or found queued) by this process
        keep = int(catch_up) + KEEP_AFTER_CATCH_UP_S
        super().__init__(queue, func=entry.func, kwargs=dict(entry.kwargs), name=entry.name,
                         interval=self.when.every or None, cron=None if self.when.every else entry.when,
                         job_timeout=entry.timeout, result_ttl=keep)
        self.next_enqueue_time = self.when.after(clock())

    def get_next_enqueue_time(self) -> datetime:
        return self.when.after(self.clock())

    def due(self, now: datetime) -> datetime | None:
        """The slot to queue now, if any: the latest one, not yet queued here, within the catch-up window."""
        slot = self.when.latest(now)
        if (self.done is not None and slot <= self.done) or now - slot > self.catch_up:
            return None
        return slot

    def should_run(self) -> bool:
        return self.due(self.clock()) is not None

    def enqueue(self, connection: redis.Redis) -> Job | None:
        """Queue the due slot; None when it was queued already (by us before a restart, or by another
        scheduler). A Redis error leaves the slot due, for the next try."""
        now = self.clock()
        slot = self.due(now)
        if slot is None:
            return None
        local = slot.astimezone(self.tz)
        try:
            kwargs = self.entry.arguments(local)
        except Exception as exc:  # a broken entry must not hold the others back: skip this slot
            log.error("periodic_enqueue_failed", job=self.name, slot=local.isoformat(), error=type(exc).__name__)
            return self._queued(slot, now)
        queue = Queue(self.queue_name, connection=connection)
        try:
            job = queue.enqueue(self.entry.func, kwargs=kwargs, job_id=job_id(self.queue_name, self.name, slot),
                                unique=True, on_failure=Callback(periodic_failed),
                                on_success=Callback(periodic_done),
                                meta={"periodic": self.name, "slot": local.isoformat()}, **self.job_options)
        except DuplicateJobError:
            log.info("periodic_slot_already_queued", job=self.name, slot=local.isoformat())
            return self._queued(slot, now)
        self._record(connection, job)
        SCHEDULE_QUEUED.labels(self.name).set(metrics_now())
        log.info("periodic_job_queued", job=self.name, slot=local.isoformat())
        return self._queued(slot, now, job)

    def _queued(self, slot: datetime, now: datetime, job: Job | None = None) -> Job | None:
        self.done = self.latest_enqueue_time = slot
        self.next_enqueue_time = self.when.after(now)
        return job

    def _record(self, connection: redis.Redis, job: Job) -> None:
        """RQ's own history of a cron job's runs (what `rq`'s monitoring reads)."""
        from rq import cron_job_registry

        with connection.pipeline() as pipe:
            pipe.zadd(get_cron_job_history_key(self.name), {job.id: job.enqueued_at.timestamp()})
            cron_job_registry.add(self.name, pipe, enqueue_timestamp=job.enqueued_at.timestamp())
            pipe.execute()

    def set_enqueue_time(self, time: datetime) -> None:
        """`enqueue` keeps the times itself (the slot, not the moment it was queued)."""


class Scheduler(CronScheduler):
    """RQ's cron scheduler over the table of periodic jobs, with a clock passed in."""

    def __init__(self, connection: redis.Redis, entries: list[Periodic], queue: str, tz: ZoneInfo,
                 catch_up: float, clock: Clock = utcnow) -> None:
        super().__init__(connection, logging_level=logging.WARNING)
        self.clock = clock
        self._cron_jobs = [SlotJob(entry, queue, tz, catch_up, clock) for entry in entries]

    def enqueue_jobs(self) -> list[CronJob]:
        """Queue every due slot; the first Redis error ends the round (the caller backs off)."""
        return [job for job in self._cron_jobs if job.should_run() and job.enqueue(self.connection) is not None]

    def calculate_sleep_interval(self) -> float:
        """Seconds to the next slot of any job, at most a minute (the heartbeat)."""
        now = self.clock()
        soonest = min((job.when.after(now) for job in self._cron_jobs), default=now + timedelta(minutes=1))
        return max(0.0, min((soonest - now).total_seconds(), 60.0))

    def tick(self) -> float:
        """One round: queue what is due, save the times, beat; returns the seconds to sleep."""
        if self.enqueue_jobs():
            self.save()
        self.heartbeat()
        return self.calculate_sleep_interval()

    def run(self, stop: threading.Event) -> None:
        """Rounds until `stop` is set, through Redis outages (logged once each, backed off)."""
        outage = Outage("scheduler", role="scheduler")
        born = False
        try:
            while not stop.is_set():
                try:
                    if not born:
                        self.register_birth()
                        born = True
                    wait = self.tick()
                except Exception as exc:  # Redis away: the due slots stay due
                    stop.wait(outage.failed(exc))
                    continue
                outage.recovered()
                stop.wait(wait)
        finally:
            if born:
                with suppress(redis.RedisError):
                    self.register_death()


def scheduler_for(connection: redis.Redis, settings: Any, clock: Clock = utcnow) -> Scheduler:
    """The scheduler of these settings (`bot.settings.Settings`): their table, queue and time zone."""
    return Scheduler(connection, periodic(settings), settings.jobs.queue, ZoneInfo(settings.service.timezone),
                     settings.schedule.catch_up, clock)


class SchedulerThread:
    """The scheduler in a thread of `serve` (embedded mode: nothing outside the process reaches its store)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=scheduler.run, args=(self._stop,), name="rq-cron", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)
