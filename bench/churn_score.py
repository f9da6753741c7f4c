"""Benchmark 10: the weekly value-loss scoring over N subscribers (default 1,000,000; target under 60 s) on
SQLite, beside a same-run baseline that reads the same pages of usage without scoring or writing them. Wall and
CPU time both: on a machine shared with other benchmarks, CPU time says what the work costs.

The database holds only what the scoring reads: N subscribers' six months of usage from the seeded generator
(`integrations/boss/usage_demo.py`), bulk-inserted first (not timed). Each pass is timed alone.

    nice -n 10 .venv/bin/python bench/churn_score.py [--subscribers 1000000] [--page 5000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save

MONTH, WEEK = "2026-12", "2026-W49"


def seed_usage(url: str, n: int) -> float:
    """N subscribers' usage rows, in one transaction of bulk inserts."""
    from bot.db import make_engine, upgrade
    from integrations.boss.usage_demo import COLUMNS, history

    upgrade(url)
    engine, started = make_engine(url), time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur, batch = raw.cursor(), []
        cur.execute("BEGIN")
        sql = f"INSERT INTO boss_usage ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        tiers = ("regular", "regular", "silver", "gold")
        for planted in history(((f"+{8613800000001 + i}", tiers[i % 4]) for i in range(n)), MONTH):
            batch += planted.usage
            if len(batch) >= 60_000:
                cur.executemany(sql, batch)
                batch.clear()
        cur.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    return time.perf_counter() - started


def baseline(boss) -> int:
    """The same reads, nothing scored or written."""
    from integrations.boss.usage_demo import months_before

    seen = 0
    for page in boss.usage(months_before(MONTH, 3)):
        seen += len(page)
    return seen


def scored(boss) -> int:
    from jobs.churn import score_all

    return score_all(boss, WEEK, MONTH).subscribers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=5_000, help="rows a keyset page")
    args = parser.parse_args()
    from bot.db import make_engine
    from integrations.boss.simulated import SimulatedBoss

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/churn.db"
        seeded = seed_usage(url, args.subscribers)
        print(f"seeded {args.subscribers:,} subscribers' usage in {seeded:.1f} s (not part of the figures)")
        boss = SimulatedBoss(make_engine(url), page=args.page)
        rows = {}
        for name, run in (("baseline: read only", baseline), ("scoring: read, score, write", scored)):
            wall, cpu = time.perf_counter(), time.process_time()
            n = run(boss)
            seconds, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows[name] = {"subscribers": n, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                          "per_s": round(n / seconds), "per_cpu_s": round(n / cpu)}
            print(f"{name:<30}{n:>10,} subscribers {seconds:>7.1f} s {n / seconds:>10,.0f} /s   "
                  f"(CPU {cpu:.1f} s: {n / cpu:,.0f} /CPU-s)")
        boss.engine.dispose()
    print(f"written to {save('churn_score', {'subscribers': args.subscribers, 'page': args.page, 'runs': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
