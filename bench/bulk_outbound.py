"""Benchmark 3: bulk outbound. 100,000 reminder rows in the outbox, dispatched by batched RQ jobs (200
ids a job, 100 messages a gateway request) with the opt-out check at send time, beside a baseline of
bare batched RQ jobs that render and hand off the same messages, measured in the same run.

Stages: baseline (bare jobs), job stage (claim, compliance, render, hand-off to a client that accepts at
once), end to end (into the simulated gateway, its own process, delivery reports off), each with 1 and 2
workers. A worker per core (taskset); with 2 workers the gateway and Redis share the cores.

    .venv/bin/python bench/bulk_outbound.py [--rows 100000] [--runs 3]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, ROOT, fmt, free_port, pinned, redis_server, save, spread, started, wait_port

OPTED_OUT = 0.01  # share of recipients who texted STOP: their reminders must be suppressed


def prepare(db_url: str, rows: int) -> None:
    from sqlalchemy import insert

    from bench.bulk_jobs import render
    from integrations.sqltx import make_engine
    from bot.db import upgrade
    from jobs.tables import OptOut, Outbox

    upgrade(db_url)
    engine = make_engine(db_url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(Outbox.__table__.delete())
        conn.execute(OptOut.__table__.delete())
        conn.execute(insert(Outbox.__table__), [
            dict(msisdn=f"+86139{n:08d}", text=render(n), cause=f"bench:{n}", kind="reminder", status="pending",
                 attempts=0, next_attempt_at=now, error="", created_at=now) for n in range(rows)])
        step = int(1 / OPTED_OUT)
        conn.execute(insert(OptOut.__table__), [
            dict(msisdn=f"+86139{n:08d}", opted_out=True, channel="sms", text="STOP", changed_at=now)
            for n in range(0, rows, step)])
    engine.dispose()


def counts(db_url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from integrations.sqltx import make_engine
    from jobs.tables import Outbox

    engine = make_engine(db_url)
    with engine.connect() as conn:
        found = dict(conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
    engine.dispose()
    return found


def enqueue(redis_url: str, queue: str, ids: list[int], job) -> None:
    import redis
    from rq import Queue

    from jobs.outbox import batches

    q = Queue(queue, connection=redis.Redis.from_url(redis_url))
    q.empty()
    with q.connection.pipeline() as pipe:
        for batch in batches(ids):
            q.enqueue(job, batch, pipeline=pipe, result_ttl=60)
        pipe.execute()


def run_workers(n: int, argv_for) -> float:
    """Start n burst workers (one per core), wait for all; the elapsed wall time."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(pinned(str(i % 2), argv_for(i)), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for i in range(n)]
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode:
            raise RuntimeError(err.decode(errors="replace")[-2000:])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    db_url = f"sqlite:///{tmp}/bulk.db"
    results: dict[str, dict[int, list[float]]] = {}
    with redis_server(tmp) as (redis_url, _redis):
        gport = free_port()
        gw_env = {"SHORTCODE_SMS_GATEWAY_URL": f"http://127.0.0.1:{gport}", "SHORTCODE_HTTP_PORT": "1",
                  "SHORTCODE_LOG_LEVEL": "warning"}
        with started("gateway", [PY, "-m", "bot.tools.cli", "gateway"], "0,1", gw_env, tmp, gport):
            import urllib.request
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{gport}/control/faults", data=b'{"dlr": false}', method="POST",
                headers={"Content-Type": "application/json"})).read()
            for run in range(args.runs):
                for workers in (1, 2):
                    ids = list(range(1, args.rows + 1))
                    enqueue(redis_url, "bulk", ids, "bench.bulk_jobs.bare_batch")
                    t = run_workers(workers, lambda i: [PY, "-m", "rq.cli", "worker", "--burst", "-w",
                                                        "rq.worker.SimpleWorker", "--url", redis_url,
                                                        "--logging_level", "ERROR", "bulk"])
                    results.setdefault("baseline", {}).setdefault(workers, []).append(args.rows / t)
                    print(f"  run {run + 1} baseline   {workers} worker(s): {args.rows / t:,.0f} msg/s", flush=True)
                    for mode in ("stage", "gateway"):
                        prepare(db_url, args.rows)
                        from sqlalchemy import create_engine, text
                        e = create_engine(db_url)
                        with e.connect() as conn:
                            ids = list(conn.execute(text("SELECT id FROM outbox ORDER BY id")).scalars())
                        e.dispose()
                        enqueue(redis_url, "bulk", ids, "jobs.outbox.send_outbox")
                        t = run_workers(workers, lambda i: [PY, "bench/bulk_jobs.py", "worker", "bulk", db_url,
                                                            redis_url, mode, f"http://127.0.0.1:{gport}"])
                        found = counts(db_url)
                        expected_out = len(range(0, args.rows, int(1 / OPTED_OUT)))
                        assert found == {"sent": args.rows - expected_out, "suppressed": expected_out}, found
                        results.setdefault(mode, {}).setdefault(workers, []).append(args.rows / t)
                        print(f"  run {run + 1} {mode:10} {workers} worker(s): {args.rows / t:,.0f} msg/s", flush=True)
    print(f"\nBulk outbound, {args.rows:,} reminders ({OPTED_OUT:.0%} opted out, suppressed at send time), "
          f"median of {args.runs} (min-max)")
    print(f"{'stage':10} {'workers':>7}  {'messages/s':>26}  {'vs baseline':>11}")
    data = {}
    for mode in ("baseline", "stage", "gateway"):
        for workers in (1, 2):
            row = spread(results[mode][workers])
            ratio = row["median"] / spread(results["baseline"][workers])["median"]
            data.setdefault(mode, {})[workers] = {**row, "ratio_to_baseline": ratio}
            print(f"{mode:10} {workers:>7}  {fmt(row):>26}  {ratio:>10.2f}x")
    path = save("bulk_outbound", {"command": " ".join(sys.argv), "rows": args.rows, "runs": args.runs,
                                  "opted_out_share": OPTED_OUT, "results": data})
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
