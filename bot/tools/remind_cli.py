"""`shortcode remind KIND [--msisdn N] [--dry-run] [--at ISO]`: a care agent's or tester's trigger of one
reminder kind, for one subscriber or everyone due now, with a progress line and the run's counts."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Callable, TextIO

from bot.settings import Settings


class BadInput(ValueError):
    """What the user typed cannot be run: one line, exit 2."""


def register(sub) -> None:
    """The `remind` command on the `shortcode` parser (one line in cli.py)."""
    s = sub.add_parser("remind", help="run a reminder kind now: everyone due, or one subscriber")
    s.add_argument("kind", help="a kind of menus/reminders.toml (bill-ready, low-balance, ...)")
    s.add_argument("--msisdn", help="only this subscriber, with or without +86 ([service] region)")
    s.add_argument("--dry-run", action="store_true", help="select and render, write nothing; show the counts and "
                                                          "a few of the texts")
    s.add_argument("--at", help="the moment to run at, ISO 8601 (default: now; without an offset: the "
                                "operator's time zone)")
    s.set_defaults(func=cmd_remind)


def moment(text: str | None, zone: str, now: Callable[[], datetime]) -> datetime:
    if not text:
        return now()
    from zoneinfo import ZoneInfo

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--at {text}: not an ISO 8601 moment (2026-12-01T10:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))


def _number(text: str | None, settings: Settings, engine) -> str | None:
    """The subscriber's number in E.164, checked against the subscriber table."""
    if text is None:
        return None
    from bot.msisdn import BadNumber, mask, normalise
    from jobs.reminder_select import recipients

    try:
        msisdn = normalise(text, settings.service.region)
    except BadNumber as exc:
        raise BadInput(f"--msisdn {text}: {exc}") from None
    if not recipients(engine, [msisdn], settings.service.timezone):
        raise BadInput(f"--msisdn {mask(msisdn)}: no such subscriber")
    return msisdn


class Progress:
    """A progress line redrawn in place on a terminal; plain lines, now and then, when not a TTY."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.tty, self.lines = out, out.isatty(), 0

    def __call__(self, counts) -> None:
        text = f"selected {counts.selected:,}  queued {counts.queued:,}  suppressed {counts.suppressed:,}"
        if self.tty:
            bar = "#" * min(30, counts.selected // 1000 + 1)
            self.out.write(f"\r[{bar:<30}] {text}")
        elif counts.selected >= (self.lines + 1) * 10_000:
            self.lines += 1
            self.out.write(text + "\n")
        self.out.flush()

    def done(self) -> None:
        if self.tty:
            self.out.write("\n")


def _enqueue(settings: Settings):
    """The send queue on the Redis server workers use; None in embedded mode (the re-scan of `serve` sends)."""
    if settings.redis.url == "embedded":
        return None, "rows are sent by `shortcode serve`'s re-scan (embedded mode)"
    import redis
    from rq import Queue

    from jobs.reminders import queue_sender

    return queue_sender(Queue(settings.jobs.queue, connection=redis.Redis.from_url(settings.redis.url))), ""


def report(counts, dry_run: bool, note: str, out: TextIO) -> None:
    print(f"{counts.key}: selected {counts.selected:,}, {'would queue' if dry_run else 'queued'} "
          f"{counts.queued:,} ({counts.telegram:,} by Telegram), suppressed {counts.suppressed:,} (opted out), "
          f"already sent {counts.already:,}, skipped {counts.skipped:,}", file=out)
    print("deferred and capped: decided at send time (quiet hours, frequency caps)", file=out)
    for text in counts.sample:
        print(f"  {text}", file=out)
    if note:
        print(note, file=out)


def cmd_remind(args: argparse.Namespace, settings: Settings, now: Callable[[], datetime] | None = None) -> int:
    from bot.db import make_engine, upgrade
    from bot.logs import configure
    from bot.wiring import build_core, build_services
    from jobs.reminders import run

    configure("warning", stream=sys.stderr)  # the counts are the output; the run's log line is for workers
    core = build_core(settings)
    kinds = core.reminders.kinds
    try:
        if args.kind not in kinds:
            raise BadInput(f"unknown kind '{args.kind}' (one of {', '.join(kinds)})")
        at = moment(args.at, settings.service.timezone, now or (lambda: datetime.now(timezone.utc)))
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        msisdn = _number(args.msisdn, settings, engine)
    except BadInput as exc:
        print(f"shortcode remind: {exc}", file=sys.stderr)
        return 2
    enqueue, note = (None, "") if args.dry_run else _enqueue(settings)
    progress = Progress(sys.stdout)
    counts = run(kinds[args.kind], at, engine, build_services(core, engine), core.catalogs, core.reminders,
                 msisdn=msisdn, dry_run=args.dry_run, enqueue=enqueue, progress=progress)
    progress.done()
    report(counts, args.dry_run, note, sys.stdout)
    engine.dispose()
    return 0
