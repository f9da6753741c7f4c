"""Benchmark 10: the weekly value-loss scoring over N subscribers (default 1,000,000; target under 60 s) on
SQLite and PostgreSQL, beside a same-run baseline that reads the same usage (`Boss.usage_rows`) without scoring
or writing it. Wall and CPU time both: on a machine shared with other benchmarks, CPU time says what the work
costs.

The database holds only what the scoring reads: N subscribers' six months of usage from the seeded generator
(`integrations/boss/usage_demo.py`), bulk-inserted once into `--keep` (default /tmp/score/) and reused by later
runs (not timed). Passes, each timed alone, each into an empty `churn_score`:

- baseline: the read alone, in this process;
- one process: `score_all`, the whole week in this process (what it costs in CPU);
- N workers: the week's parts queued (`queue_parts`, as `shortcode churn score --queue`) to `--workers` real
  `shortcode worker` processes on a Redis of its own; wall from queueing to the last part done, CPU of the
  workers (and of PostgreSQL's server, its backends included).

    flock /tmp/bench.lock nice -n 0 .venv/bin/python bench/churn_score.py [--subscribers 1000000] [--db sqlite]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, postgres_server, redis_server, save, started

MONTH, WEEK = "2026-12", "2026-W49"
TIERS = ("regular", "regular", "silver", "gold")


def planted(n: int):
    from integrations.boss.usage_demo import history

    return history(((f"+{8613800000001 + i}", TIERS[i % 4]) for i in range(n)), MONTH)


def seed_usage(url: str, n: int) -> float:
    """N subscribers' usage rows: one transaction of bulk inserts on SQLite, COPY on PostgreSQL."""
    from bot.db import make_engine, upgrade
    from integrations.boss.usage_demo import COLUMNS

    upgrade(url)
    engine, started_at = make_engine(url), time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY boss_usage ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for p in planted(n):
                    for row in p.usage:
                        copy.write_row(row)
        else:
            _sqlite_inserts(cur, COLUMNS, n)
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    return time.perf_counter() - started_at


def _sqlite_inserts(cur, columns, n: int) -> None:
    sql, batch = f"INSERT INTO boss_usage ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", []
    cur.execute("BEGIN")
    for p in planted(n):
        batch += p.usage
        if len(batch) >= 60_000:
            cur.executemany(sql, batch)
            batch.clear()
    cur.executemany(sql, batch)


def seeded(url: str, n: int) -> None:
    """Seed unless the database already holds N subscribers' usage; then bring its schema up to date."""
    from sqlalchemy import text

    from bot.db import make_engine, upgrade

    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM boss_usage WHERE month = :m"), {"m": "2026-11"}).scalar_one()
    engine.dispose()
    if have == n:
        print(f"reusing the seeded usage of {n:,} subscribers")
    elif have:
        raise SystemExit(f"{url}: holds {have:,} subscribers, not {n:,}: remove it or pick another --keep")
    else:
        print(f"seeded {n:,} subscribers' usage in {seed_usage(url, n):.1f} s (not part of the figures)")
        settled(url)


def settled(url: str) -> None:
    """PostgreSQL: vacuum and analyze the fresh rows now, or autovacuum does it during the first pass and
    its CPU lands in that pass's figures."""
    from bot.db import make_engine

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (FREEZE, ANALYZE) boss_usage")
    engine.dispose()


def emptied(engine) -> None:
    """Each pass writes into an empty table, as the first scoring of a week does."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM churn_score")
        conn.exec_driver_sql("DELETE FROM churn_part")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE churn_score")


def baseline(boss, _: dict) -> int:
    """The same reads, nothing scored or written."""
    from integrations.boss.usage_demo import months_before

    return sum(len(page) for page in boss.usage_rows(months_before(MONTH, 3)))


def one_process(boss, _: dict) -> int:
    from jobs.churn import score_all

    return score_all(boss, WEEK, MONTH).subscribers


def with_workers(boss, env: dict) -> tuple[int, float]:
    """Queue the parts to the workers already waiting; wall until every part is done. Returns the count and
    the workers' CPU seconds."""
    import redis
    from rq import Queue

    from jobs.churn_parts import progress
    from jobs.churn import queue_parts

    workers, cpu = env["workers"], [w.cpu_seconds() for w in env["workers"]]
    queue = Queue(env["SHORTCODE_JOBS_QUEUE"], connection=redis.Redis.from_url(env["SHORTCODE_REDIS_URL"]))
    queue_parts(boss.engine, queue, WEEK, MONTH, {}, env["parts"])
    while not (done := progress(boss.engine, WEEK)) or not done[0].complete:
        if any(w.popen.poll() is not None for w in workers):
            raise RuntimeError(f"a worker exited: {workers[0].log.read_text()[-2000:]}")
        time.sleep(0.05)
    spent = [w.cpu_seconds() - c for w, c in zip(workers, cpu)]
    print(f"  (CPU seconds per worker: {', '.join(f'{s:.1f}' for s in spent)})")
    return done[0].subscribers, sum(spent)


def timed(name: str, run, boss, env: dict, server) -> dict:
    emptied(boss.engine)
    server_cpu = server.cpu_seconds() if server else 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    out = run(boss, env)
    seconds, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n, cpu = (out[0], out[1]) if isinstance(out, tuple) else (out, cpu)
    server_cpu = server.cpu_seconds() - server_cpu if server else 0.0
    load = os.getloadavg()[0]
    print(f"  {name:<28}{n:>10,} subscribers {seconds:>7.1f} s {n / seconds:>10,.0f} /s   CPU {cpu:.1f} s"
          + (f" + database {server_cpu:.1f} s" if server else "") + f"   (load {load:.2f})", flush=True)
    return {"subscribers": n, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "db_cpu_seconds": round(server_cpu, 2), "per_s": round(n / seconds), "load_1m": round(load, 2)}


@contextlib.contextmanager
def workers(url: str, count: int, tmp: Path):
    """Redis and `count` real `shortcode worker` processes on the database, waiting for jobs."""
    with redis_server(tmp) as (redis_url, _), contextlib.ExitStack() as stack:
        env = {"SHORTCODE_DATABASE_URL": url, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_JOBS_QUEUE": "churn",
               "SHORTCODE_LOG_LEVEL": "warning", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        procs = [stack.enter_context(started(f"churn-worker-{i}", [PY, "-m", "bot.tools.cli", "worker"], "0,1",
                                             env=env, tmp=tmp)) for i in range(count)]
        for proc in procs:
            _wait_ready(proc)
        yield {**env, "workers": procs}


def _wait_ready(proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while "worker on" not in proc.log.read_text(errors="replace"):
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not start: {proc.log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def run_db(kind: str, args, tmp: Path) -> dict:
    from bot.db import make_engine
    from integrations.boss.simulated import SimulatedBoss

    keep = Path(args.keep)
    with (postgres_server(tmp, keep / f"pg-{args.subscribers}") if kind == "postgresql"
          else contextlib.nullcontext()) as server:
        url = server.url if server else f"sqlite:///{keep}/sqlite-{args.subscribers}.db"
        seeded(url, args.subscribers)
        boss, rows = SimulatedBoss(make_engine(url), page=args.page), {}
        print(f"{kind}:")
        for name, run in (("baseline: read only", baseline), ("one process: score_all", one_process)):
            rows[name] = timed(name, run, boss, {}, server)
        with workers(url, args.workers, tmp) as env:
            name = f"{args.workers} workers, {args.parts} parts"
            rows[name] = timed(name, with_workers, boss, {**env, "parts": args.parts}, server)
        boss.engine.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=5_000, help="usage rows a keyset page")
    parser.add_argument("--parts", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", default="/tmp/score", help="where the seeded databases are kept and reused")
    args = parser.parse_args()
    Path(args.keep).mkdir(parents=True, exist_ok=True)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory() as folder:
        runs = {kind: run_db(kind, args, Path(folder)) for kind in kinds}
    print(f"written to {save('churn_score', {'subscribers': args.subscribers, 'page': args.page, 'runs': runs})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
