"""`shortcode scheduler`: RQ's cron scheduler as its own process, queueing the periodic jobs of
`jobs/schedule.py` on `[jobs] queue` until SIGTERM or Ctrl-C, through Redis outages."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from bot.settings import Settings


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    """Run the scheduler; `--list` prints the table (name, schedule, next slot) and exits."""
    from bot import telemetry

    telemetry.prepare(settings)  # before jobs.scheduler imports prometheus_client
    import redis

    from bot.logs import configure
    from bot.startup import check_redis
    from bot.tools.banner import hide_password
    from jobs.scheduler import scheduler_for

    if settings.redis.url == "embedded" and not args.list:
        print("the embedded store lives inside `shortcode serve`, which runs its own scheduler; set [redis] url "
              "(SHORTCODE_REDIS_URL=redis://...) to run the scheduler apart", file=sys.stderr)
        return 2
    configure(settings.log.level, fmt=settings.log.format)
    connection = redis.Redis.from_url(settings.redis.url) if not args.list else None
    scheduler = scheduler_for(connection, settings)
    if args.list:
        return _list(scheduler, settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"scheduler on {hide_password(settings.redis.url)} queue {settings.jobs.queue}: "
          f"{', '.join(job.name for job in scheduler.get_jobs())}", flush=True)
    for note in check_redis(settings):  # what an evicting or diskless Redis may lose
        print(note, flush=True)
    scheduler.run(stop)
    return 0


def _list(scheduler, settings: Settings) -> int:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.service.timezone)
    for job in scheduler.get_jobs():
        print(f"{job.name:26} {job.entry.when:16} next {job.next_enqueue_time.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}")
    return 0


def add_parser(sub) -> None:
    """The `scheduler` command, registered by `bot/tools/cli.py`."""
    s = sub.add_parser("scheduler", help="queue the periodic jobs on RQ's cron scheduler (needs a real Redis; "
                                         "run one, beside serve and the workers)")
    s.add_argument("--list", action="store_true", help="print the periodic jobs and their next slots, then exit")
    s.set_defaults(func=cmd_scheduler)
