"""Benchmark 8: one reminder run over a million subscribers, from the trigger to the last message accepted by
the simulated gateway, on SQLite and on PostgreSQL, beside the same-run baseline of bare batched RQ jobs.

The bulk seed (`seed_demo`, care data) dated 1 Dec 2026 issues every subscriber a bill that day, so the
`bill-ready` kind run `at` 2026-12-01 10:00 Shanghai selects all of them. Real processes: redis-server, the
simulated gateway (`shortcode gateway`, delivery reports off) and 1 or 2 `shortcode worker`s. The trigger
queues `run_reminder("bill-ready", at=...)` as the scheduler would; one worker runs it (select, render,
write a row per subscriber, queue send jobs of 200 ids as it goes) while the other, if any, starts sending.
The gate runs for every row: opt-out, quiet hours (a one-hour window twelve hours away from the moment of
the bench, so none is held) and the default frequency caps (`care`: 2 a day, 5 a week; each subscriber gets
one reminder, so each takes a slot and none is capped).

    .venv/bin/python bench/reminder_run.py [--subscribers 1000000] [--backends sqlite,postgresql]
        [--workers 1,2] [--timeout 1800]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bulk_outbound import enqueue as enqueue_bare, run_workers
from bench.common import PY, ROOT, free_port, postgres_server, redis_server, save, started

KIND = "bill-ready"
AT = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # the bills are issued that day
QUEUE = "bench"
RUN_TIMEOUT_S = 3600  # the run job's RQ timeout: RQ's default (180 s) is shorter than a million-row run
EMPTIED = ("outbox", "telegram_outbox", "reminder_run", "send_cap", "reminder_goto")


def seed(db_url: str, n: int) -> float:
    from bot.db import make_engine, upgrade
    from bot.tools.seed import seed_demo

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        return seed_demo(engine, n, care=True, now=AT)[1]
    finally:
        engine.dispose()


def reset(db_url: str) -> None:
    """What a measurement leaves behind: rows, runs, cap counters (a second run would be `already` sent)."""
    from sqlalchemy import text

    from bot.db import make_engine

    engine = make_engine(db_url)
    with engine.begin() as conn:
        for table in EMPTIED:
            conn.execute(text(f"DELETE FROM {table}"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def statuses(db_url: str) -> dict[str, int]:
    from sqlalchemy import text

    from bot.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
    engine.dispose()
    return found


def quiet_window(now: datetime) -> tuple[str, str]:
    """An hour of quiet hours twelve hours from now (Shanghai): the gate checks it, nothing falls in it."""
    start = (now.astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(hours=12)).replace(minute=0)
    return f"{start:%H:%M}", f"{start + timedelta(hours=1):%H:%M}"


def control(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


@contextmanager
def workers(n: int, env: dict, tmp: Path, redis_url: str) -> Iterator[list]:
    """n `shortcode worker`s, one per core, registered with RQ before the clock starts."""
    import redis
    from rq import Queue, Worker

    with ExitStack() as stack:
        procs = [stack.enter_context(started(f"worker{i}", [PY, "-m", "bot.tools.cli", "worker"], str(i % 2),
                                             env, tmp)) for i in range(n)]
        q = Queue(QUEUE, connection=redis.Redis.from_url(redis_url))
        deadline = time.monotonic() + 60
        while Worker.count(queue=q) < n:
            if time.monotonic() > deadline or any(p.popen.poll() is not None for p in procs):
                raise RuntimeError("workers did not start: " + procs[0].log.read_text(errors="replace")[-2000:])
            time.sleep(0.1)
        yield procs


def trigger(redis_url: str):
    import redis
    from rq import Queue

    q = Queue(QUEUE, connection=redis.Redis.from_url(redis_url))
    return q.enqueue("jobs.reminders.run_reminder", kind=KIND, at=AT.isoformat(), job_timeout=RUN_TIMEOUT_S,
                     result_ttl=3600)


def wait(job, gateway: str, timeout: float) -> dict:
    """Until the run is over and the gateway accepted every row it queued (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in ("failed", "stopped", "canceled"):
            job.refresh()
            raise RuntimeError(f"the run job {status}: {(job.latest_result().exc_string if job.latest_result() else '')[-2000:]}")
        counts = control(gateway, "/control/counts")
        if status == "finished" and counts["accepted"] >= job.return_value()["queued"]:
            return counts
        time.sleep(0.5)
    return {}


@contextmanager
def profiled(procs: list, folder: Path | None) -> Iterator[None]:
    """py-spy (from PyPI) on each worker while it works, idle frames included: collapsed stacks per worker."""
    import signal
    import subprocess

    spies = [subprocess.Popen([str(Path(PY).parent / "py-spy"), "record", "--idle", "--nonblocking", "-r", "50",
                               "-f", "raw", "-o", str(folder / f"{p.name}.txt"), "-p", str(p.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in procs] if folder else []
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)


@dataclass
class Meter:
    """CPU seconds of each process (PostgreSQL's backends included) and the load average, from its making to
    `stop`; `t0` is the wall clock at the start."""

    procs: list
    pg: Any = None

    def __post_init__(self) -> None:
        self.cpu0 = {p.name: p.cpu_seconds() for p in self.procs}
        self.pg0, self.load0 = (self.pg.cpu_seconds() if self.pg else 0.0), os.getloadavg()
        self.t0 = time.time()

    def stop(self) -> dict[str, float]:
        cpu = {p.name: round(p.cpu_seconds() - self.cpu0[p.name], 1) for p in self.procs}
        if self.pg:
            cpu["postgres"] = round(self.pg.cpu_seconds() - self.pg0, 1)
        self.load1 = os.getloadavg()
        return cpu

    def loads(self) -> tuple:
        return self.load0, self.load1


@contextmanager
def stage(db_url: str, redis: tuple, n_workers: int, tmp: Path, pg=None) -> Iterator[tuple[str, tuple, list, Meter]]:
    """A fresh gateway (delivery reports off) and n workers waiting, with a quiet window the measurement never
    falls in: (gateway URL, quiet window, workers, a Meter started as the stage is ready)."""
    redis_url, redis_proc = redis
    gport = free_port()
    gateway = f"http://127.0.0.1:{gport}"
    quiet = quiet_window(datetime.now(ZoneInfo("UTC")))
    env = {"SHORTCODE_DATABASE_URL": db_url, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_SMS_GATEWAY_URL": gateway,
           "SHORTCODE_JOBS_QUEUE": QUEUE, "SHORTCODE_LOG_LEVEL": "warning", "SHORTCODE_HTTP_PORT": "1",
           "SHORTCODE_REMINDERS_QUIET_START": quiet[0], "SHORTCODE_REMINDERS_QUIET_END": quiet[1]}
    with started("gateway", [PY, "-m", "bot.tools.cli", "gateway"], "0,1", env, tmp, gport) as gw, \
            workers(n_workers, env, tmp, redis_url) as procs:
        control(gateway, "/control/faults", {"dlr": False})
        yield gateway, quiet, procs, Meter([gw, redis_proc, *procs], pg)


def measure(db_url: str, redis: tuple, n_workers: int, tmp: Path, timeout: float, pg=None,
            profile: Path | None = None) -> dict:
    """One measurement: fresh outbox and counters, a fresh gateway, n workers waiting; the trigger; the wait."""
    reset(db_url)
    with stage(db_url, redis, n_workers, tmp, pg) as (gateway, quiet, procs, meter):
        with profiled(procs, profile):
            job = trigger(redis[0])
            counts = wait(job, gateway, timeout)
        cpu, (load0, load1), t0 = meter.stop(), meter.loads(), meter.t0
    if not counts:
        return {"workers": n_workers, "finished": False, "timeout_s": timeout, "load": [load0, load1]}
    job.refresh()
    result, found = job.return_value(), statuses(db_url)
    total = counts["last_accepted_at"] - t0
    run_s = (job.ended_at - job.started_at).total_seconds()
    return {"workers": n_workers, "finished": True, "total_s": round(total, 1),
            "messages_per_s": round(counts["accepted"] / total), "accepted": counts["accepted"],
            "run": {**result, "seconds": round(run_s, 1),
                    "ended_at_s": round(job.ended_at.timestamp() - t0, 1)},
            "first_accept_s": round(counts["first_accepted_at"] - t0, 1),
            "send_s": round(counts["last_accepted_at"] - counts["first_accepted_at"], 1),
            "outbox": found, "cpu_s": cpu, "load": [load0, load1], "quiet_hours": quiet}


def baseline(redis_url: str, n: int, n_workers: int) -> dict:
    """Bare batched RQ jobs (bench/bulk_jobs.py `bare_batch`): render and hand off n messages, 200 a job."""
    import redis

    enqueue_bare(redis_url, "bare", list(range(1, n + 1)), "bench.bulk_jobs.bare_batch")
    t = run_workers(n_workers, lambda i: [PY, "-m", "rq.cli", "worker", "--burst", "-w", "rq.worker.SimpleWorker",
                                          "--url", redis_url, "--logging_level", "ERROR", "bare"])
    redis.Redis.from_url(redis_url).delete("bench:handoff")
    return {"workers": n_workers, "seconds": round(t, 1), "messages_per_s": round(n / t)}


def backend(name: str, args, tmp: Path, redis: tuple) -> dict:
    redis_url = redis[0]
    with (postgres_server(tmp) if name == "postgresql" else nullcontext()) as pg:
        db_url = pg.url if pg else f"sqlite:///{tmp}/reminders.db"
        seconds = seed(db_url, args.subscribers)
        print(f"{name}: seeded {args.subscribers:,} subscribers in {seconds:.1f} s", flush=True)
        out = {"seed_s": round(seconds, 1), "runs": [], "baseline": []}
        for n in args.workers:
            out["baseline"].append(baseline(redis_url, args.subscribers, n))
            print(f"  baseline {n} worker(s): {out['baseline'][-1]}", flush=True)
            folder = None
            if args.profile:
                folder = Path(args.profile) / f"{name}-{n}"
                folder.mkdir(parents=True, exist_ok=True)
            out["runs"].append(measure(db_url, redis, n, tmp, args.timeout, pg, folder))
            print(f"  reminder run {n} worker(s): {json.dumps(out['runs'][-1])}", flush=True)
    return out


def report(results: dict, n: int) -> None:
    print(f"\nOne `{KIND}` run over {n:,} subscribers, trigger to last accept (target: under 300 s)")
    print(f"{'backend':11} {'workers':>7} {'total s':>8} {'msg/s':>8} {'run s':>7} {'send s':>7} "
          f"{'baseline msg/s':>15}  cpu s")
    for name, data in results.items():
        for run, base in zip(data["runs"], data["baseline"]):
            if not run["finished"]:
                print(f"{name:11} {run['workers']:>7} did not finish in {run['timeout_s']:.0f} s")
                continue
            print(f"{name:11} {run['workers']:>7} {run['total_s']:>8.1f} {run['messages_per_s']:>8,} "
                  f"{run['run']['seconds']:>7.1f} {run['send_s']:>7.1f} {base['messages_per_s']:>15,}  "
                  f"{run['cpu_s']}")


def parser(doc: str, subscribers: int, workers: str) -> argparse.ArgumentParser:
    """The options every run-to-last-accept bench takes (this one and bench/campaign_run.py)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=subscribers)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--workers", default=workers, type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one measurement may take at most")
    return ap


def each_backend(args, backend, prefix: str) -> dict:
    """`backend(name, args, tmp, redis)` for every backend asked for, on one private redis-server."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    results = {}
    with redis_server(tmp) as redis:
        for name in args.backends.split(","):
            results[name] = backend(name, args, tmp, redis)
    shutil.rmtree(tmp, ignore_errors=True)  # a million-row SQLite file is over a gigabyte; logs stay on failure
    return results


def main() -> None:
    ap = parser(__doc__, 1_000_000, "1,2")
    ap.add_argument("--profile", help="a folder: py-spy records each worker there (collapsed stacks)")
    args = ap.parse_args()
    results = each_backend(args, backend, "bench-reminders-")
    report(results, args.subscribers)
    path = save("reminder_run", {"command": " ".join(sys.argv), "subscribers": args.subscribers, "kind": KIND,
                                 "at": AT.isoformat(), "results": results})
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
