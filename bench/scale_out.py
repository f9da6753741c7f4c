"""Benchmark 14: scale-out. USSD hops/s with 1 and with 2 `serve` processes on one port (SO_REUSEPORT: the
kernel spreads wrk's connections over them, our round-robin front), on the local cluster's stores
(bot/tools/cluster.py: redis-server with AOF, PostgreSQL), alternating 1 and 2 in every run; the ratio.

The hop is benchmark 1's (the tee-time list paged 98/99). Nothing is pinned: with 2 serve the two cores
are shared by both of them, wrk, Redis and PostgreSQL, which is what this machine can show.

    flock /tmp/bench.lock .venv/bin/python bench/scale_out.py [--seconds 8] [--runs 3] [--concurrency 64]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import USSD_KEY, Postgres, fmt, free_port, save, spread
from bench.ussd_turn import measure, position, silver_numbers
from bot.tools.cluster import Cluster, Ports, Topology

SUBSCRIBERS = 20_000
SERVES = (1, 2)


class Serves:
    """The serve processes of one topology, as one `proc` for `measure`: their CPU time summed."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def each(self) -> list[float]:
        tick = os.sysconf("SC_CLK_TCK")
        stats = [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() for pid in self.pids]
        return [(int(f[11]) + int(f[12])) / tick for f in stats]

    def cpu_seconds(self) -> float:
        return sum(self.each())


def load() -> float:
    return os.getloadavg()[0]


def stores_cpu(cluster: Cluster):
    """A reader of (Redis, PostgreSQL) CPU seconds so far, PostgreSQL's backends included."""
    redis = Serves([p.pid for p in cluster.parts if p.name == "redis"])
    postgres = Postgres(cluster.database_url, cluster.base / "pg" / "data")
    return lambda: (redis.cpu_seconds(), postgres.cpu_seconds())


def one(cluster: Cluster, serves: int, numbers: list[str], tag: str, args) -> dict:
    """Start `serves` serve processes on the shared port, walk the sessions to the list, measure, stop."""
    cluster.start_apps(Topology(serve=serves, workers=0, scheduler=False, telegram=False, shared_port=True),
                       seed=False)
    try:
        procs = Serves([p.pid for p in cluster.parts if p.name.startswith("serve")])
        base = cluster.web(0)
        asyncio.run(position(base, numbers, tag))
        numbers_file = cluster.base / f"numbers-{tag}.txt"
        numbers_file.write_text("\n".join(numbers) + "\n")
        stores = stores_cpu(cluster)
        before, stores0, load0 = procs.each(), stores(), load()
        result = measure(procs, base, numbers_file, tag, args.concurrency, args.seconds)
        result["cpu_split"] = [after - b for after, b in zip(procs.each(), before)]
        hops = max(result["requests"], 1)
        result["redis_us"], result["postgres_us"] = ((b - a) / hops * 1e6 for a, b in zip(stores0, stores()))
        result["load"] = [load0, load()]
        return result
    finally:
        cluster.stop_apps()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    base.chmod(0o755)  # PostgreSQL (another user when we are root) enters it
    ports = Ports(serve=free_port(), gateway=free_port(), telegram=free_port(), redis=free_port(), postgres=free_port())
    cluster = Cluster(base, ports, env={"SHORTCODE_USSD_SECRET": USSD_KEY, "SHORTCODE_LOG_LEVEL": "info",
                                        "SHORTCODE_REDIS_MAX_CONNECTIONS": "300"})
    results: dict[int, list[dict]] = {n: [] for n in SERVES}
    try:
        cluster.start_stores()
        cluster.shortcode("db", "upgrade")
        cluster.shortcode("seed", "--demo", "--subscribers", str(SUBSCRIBERS))
        sessions = max(4 * args.concurrency, 256)
        pool, used = silver_numbers(cluster.database_url, sessions * args.runs * len(SERVES)), 0
        for run in range(args.runs):
            for n in SERVES:
                numbers, used = pool[used:used + sessions], used + sessions
                results[n].append(one(cluster, n, numbers, f"s{n}r{run}x", args))
                r = results[n][-1]
                print(f"  {n} serve, run {run + 1}: {r['rps']:,.0f} hops/s, p99 {r['p99_ms']:.1f} ms, "
                      f"serve CPU {' + '.join(f'{c:.1f}' for c in r['cpu_split'])} s, load {r['load'][0]:.2f}",
                      flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    report(results, args)


def report(results: dict[int, list[dict]], args) -> None:
    data = {}
    print(f"\nScale-out: USSD hops (tee-time list, 98/99), {args.concurrency} connections, {args.seconds:.0f} s a run, "
          f"median of {args.runs} (min-max)")
    print(f"{'serve':>5}  {'hops/s':>24}  {'p50 ms':>18}  {'p99 ms':>18}  {'serve µs/hop':>16}  {'Redis µs/hop':>14}"
          f"  {'PG µs/hop':>10}  errors  ratio")
    one_rps = spread([r["rps"] for r in results[1]])["median"]
    for n, runs in results.items():
        row = {k: spread([r[k] for r in runs]) for k in ("rps", "p50_ms", "p99_ms", "cpu_us", "redis_us", "postgres_us")}
        row["errors"] = sum(r["errors"] for r in runs)
        row["ratio"] = row["rps"]["median"] / one_rps
        row["load"] = [r["load"] for r in runs]
        row["cpu_split"] = [r["cpu_split"] for r in runs]
        data[n] = row
        print(f"{n:>5}  {fmt(row['rps']):>24}  {fmt(row['p50_ms'], 2):>18}  {fmt(row['p99_ms'], 2):>18}"
              f"  {fmt(row['cpu_us']):>16}  {row['redis_us']['median']:>14.0f}  {row['postgres_us']['median']:>10.0f}"
              f"  {row['errors']:>6}  {row['ratio']:.2f}x")
    ratios = [b["rps"] / a["rps"] for a, b in zip(results[1], results[2])]
    print(f"per-run ratio (2 serve / 1 serve, same run): {', '.join(f'{r:.2f}' for r in ratios)}")
    path = save("scale_out", {"command": " ".join(sys.argv), "seconds": args.seconds, "runs": args.runs,
                              "concurrency": args.concurrency, "results": data, "per_run_ratio": ratios})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
