"""Benchmark 5: scale of data. `shortcode seed --demo --subscribers 1,000,000` into a fresh SQLite file
(target < 60 s), then a USSD hop's latency (wrk, 1 connection, the tee-time list paged 98/99) against
that database beside the same hop against a 20,000-subscriber database, in the same run.

    .venv/bin/python bench/scale.py [--subscribers 1000000] [--seconds 5] [--runs 3]
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, ROOT, SERVER_CORE, fmt, free_port, redis_server, save, spread, started
from bench.ussd_turn import measure, position, silver_numbers


def seed(db_url: str, n: int) -> float:
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "bot.tools.cli", "seed", "--demo", "--subscribers", str(n)], cwd=ROOT, check=True,
                   env={"SHORTCODE_DATABASE_URL": db_url, "PATH": ""}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    seeds, hops = [], {"small": [], "large": []}
    for run in range(args.runs):
        seeds.append(seed(f"sqlite:///{tmp}/large{run}.db", args.subscribers))
        print(f"  run {run + 1}: seeded {args.subscribers:,} in {seeds[-1]:.1f} s", flush=True)
    seed(f"sqlite:///{tmp}/small.db", 20_000)
    with redis_server(tmp) as (redis_url, _r):
        for run in range(args.runs):
            for size, db in (("small", f"sqlite:///{tmp}/small.db"), ("large", f"sqlite:///{tmp}/large{run}.db")):
                port = free_port()
                env = {"SHORTCODE_DATABASE_URL": db, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_HTTP_PORT": str(port),
                       "SHORTCODE_REDIS_PREFIX": f"{size}{run}:",
                       "SHORTCODE_JOBS_INPROCESS_WORKER": "false", "SHORTCODE_LOG_LEVEL": "info"}
                with started(f"web-{size}", [PY, "-m", "bot.tools.cli", "serve"], SERVER_CORE, env, tmp, port) as web:
                    numbers = silver_numbers(db, 16)
                    tag = f"{size}{run}x"
                    base = f"http://127.0.0.1:{port}"
                    asyncio.run(position(base, numbers, tag))
                    numbers_file = tmp / f"n-{tag}.txt"
                    numbers_file.write_text("\n".join(numbers) + "\n")
                    hops[size].append(measure(web, base, numbers_file, tag, 1, args.seconds))
                    print(f"  run {run + 1} {size}: p50 {hops[size][-1]['p50_ms']:.2f} ms p99 "
                          f"{hops[size][-1]['p99_ms']:.2f} ms", flush=True)
    s = spread(seeds)
    print(f"\nScale of data, median of {args.runs} (min-max)")
    print(f"seed {args.subscribers:,} subscribers (with accounts, opening ledger entries and partner data): "
          f"{fmt(s, 1)} s (target < 60 s)")
    data = {"seed_seconds": s}
    for size, label in (("small", "20,000"), ("large", f"{args.subscribers:,}")):
        p50, p99 = spread([h["p50_ms"] for h in hops[size]]), spread([h["p99_ms"] for h in hops[size]])
        data[size] = {"p50_ms": p50, "p99_ms": p99}
        print(f"USSD hop (tee-time list, 1 connection) with {label:>9} subscribers: p50 {fmt(p50, 2)} ms, "
              f"p99 {fmt(p99, 2)} ms")
    path = save("scale", {"command": " ".join(sys.argv), "subscribers": args.subscribers, "runs": args.runs, **data})
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
