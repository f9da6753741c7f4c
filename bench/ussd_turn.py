"""Benchmark 1: one USSD turn, Shortcode beside a bare aiohttp + Redis baseline measured in the same run.

The hop is deep in the tee-booking flow: every session first walks to a day's tee-time list
(main menu -> golf -> book -> course -> day), then wrk pages it with 98/99 by turns, so each hop takes
the lock, loads the session, steps the engine (reading the tee sheet), renders and saves. The server
runs alone on core 0; wrk and redis-server share core 1. Each figure is the median of RUNS runs
(min-max), baseline and Shortcode alternating.

    .venv/bin/python bench/ussd_turn.py [--seconds 8] [--runs 3] [--concurrency 1,64,256] [--uvloop]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (LOAD_CORE, PY, ROOT, SERVER_CORE, USSD_KEY, fmt, free_port, redis_server, save,
                          spread, started, wrk)

PREFIX = ["3", "1", "1", "3"]  # golf, book a tee time, first course, third day: the tee-time list
SUBSCRIBERS = 20_000


def silver_numbers(db_url: str, count: int) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT msisdn FROM subscriber WHERE tier != 'regular' ORDER BY msisdn LIMIT :n"),
                            {"n": count}).scalars().all()
    engine.dispose()
    if len(rows) < count:
        raise SystemExit(f"only {len(rows)} silver+ subscribers; seed more")
    return list(rows)


async def position(base: str, numbers: list[str], tag: str) -> None:
    """Walk every session to the tee-time list (not measured)."""
    sem = asyncio.Semaphore(32)

    async def walk(http: aiohttp.ClientSession, i: int, number: str) -> None:
        async with sem:
            inputs: list[str] = []
            seen: list[str] = []
            for step in [None, *PREFIX]:
                inputs += [step] if step else []
                text = "*".join(inputs)
                form = {"sessionId": f"{tag}{i}", "serviceCode": "*126#", "phoneNumber": number,
                        "networkCode": "46000", "text": text}
                async with http.post(base + f"/ussd/africastalking?key={USSD_KEY}", data=form) as r:
                    body = await r.text()
                    seen.append(body)
            if "98" not in body:
                raise RuntimeError(f"session {i} ({number}) is not on a paged tee-time list: {seen!r}")

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*[walk(http, i, n) for i, n in enumerate(numbers, 1)])


def measure(proc, base: str, numbers_file: Path, tag: str, connections: int, seconds: float) -> dict:
    cpu0 = proc.cpu_seconds()
    report = wrk(base + "/ussd/africastalking", Path(__file__).with_name("ussd.lua"), connections, seconds,
                 {"BENCH_NUMBERS": str(numbers_file), "BENCH_PREFIX": "*".join(PREFIX), "BENCH_TAG": tag})
    cpu = proc.cpu_seconds() - cpu0
    errors = sum(report[k] for k in ("connect", "read", "write", "status", "timeout", "not_con"))
    return {"rps": report["requests"] / (report["duration_us"] / 1e6), "p50_ms": report["p50_us"] / 1000,
            "p99_ms": report["p99_us"] / 1000, "cpu_us": cpu / max(report["requests"], 1) * 1e6,
            "errors": errors, "requests": report["requests"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", default="1,64,256")
    ap.add_argument("--uvloop", action="store_true", help="run both servers on uvloop")
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ussd-"))
    db_url = f"sqlite:///{tmp}/bench.db"
    env = {"SHORTCODE_DATABASE_URL": db_url, "SHORTCODE_LOG_LEVEL": "info"}
    import subprocess

    subprocess.run([PY, "-m", "bot.tools.cli", "seed", "--demo", "--subscribers", str(SUBSCRIBERS)], env={**env, "PATH": ""},
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    results: dict[str, dict[int, list[dict]]] = {"baseline": {c: [] for c in levels}, "shortcode": {c: [] for c in levels}}
    with redis_server(tmp) as (redis_url, _redis):
        sport, bport = free_port(), free_port()
        senv = {**env, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_JOBS_INPROCESS_WORKER": "false",
                "SHORTCODE_HTTP_PORT": str(sport), "SHORTCODE_REDIS_MAX_CONNECTIONS": "300"}
        serve = [PY, "-m", "bot.tools.cli", "serve"]
        base_argv = [PY, "bench/baseline_app.py", str(bport), redis_url] + (["--uvloop"] if args.uvloop else [])
        with started("shortcode", serve, SERVER_CORE, senv, tmp, sport) as shortcode, \
                started("baseline", base_argv, SERVER_CORE, None, tmp, bport) as baseline:
            servers = {"baseline": (baseline, f"http://127.0.0.1:{bport}"),
                       "shortcode": (shortcode, f"http://127.0.0.1:{sport}")}
            pool, used = silver_numbers(db_url, sum(max(4 * c, 256) for c in levels) * args.runs), 0
            for c in levels:
                sessions = max(4 * c, 256)  # few hops each: the gateway text (every input so far) stays short
                for run in range(args.runs):
                    # fresh subscribers each run: a number with a recent session would be offered a resume
                    numbers, used = pool[used:used + sessions], used + sessions
                    for name, (proc, base) in servers.items():
                        tag = f"{name[0]}{c}r{run}x"
                        numbers_file = tmp / f"numbers-{tag}.txt"
                        numbers_file.write_text("\n".join(numbers) + "\n")
                        asyncio.run(position(base, numbers, tag))
                        results[name][c].append(measure(proc, base, numbers_file, tag, c, args.seconds))
                        print(f"  {name:9} c={c:<3} run {run + 1}: {results[name][c][-1]['rps']:,.0f} req/s",
                              flush=True)
    report(results, levels, args)


def report(results: dict, levels: list[int], args) -> None:
    table, data = [], {}
    print(f"\nUSSD turn (tee-time list, 98/99), {args.seconds:.0f} s a run, median of {args.runs} (min-max)"
          f"{', uvloop' if args.uvloop else ''}")
    print(f"{'server':10} {'conc':>4}  {'req/s':>24}  {'p50 ms':>18}  {'p99 ms':>18}  {'CPU µs/hop':>18}  errors  ratio")
    for c in levels:
        b_rps = spread([r["rps"] for r in results["baseline"][c]])
        for name in ("baseline", "shortcode"):
            runs = results[name][c]
            row = {k: spread([r[k] for r in runs]) for k in ("rps", "p50_ms", "p99_ms", "cpu_us")}
            row["errors"] = sum(r["errors"] for r in runs)
            row["ratio_to_baseline"] = row["rps"]["median"] / b_rps["median"]
            data.setdefault(name, {})[c] = row
            print(f"{name:10} {c:>4}  {fmt(row['rps']):>24}  {fmt(row['p50_ms'], 2):>18}  {fmt(row['p99_ms'], 2):>18}"
                  f"  {fmt(row['cpu_us']):>18}  {row['errors']:>6}  {row['ratio_to_baseline']:.2f}x")
    path = save("ussd_turn", {"command": " ".join(sys.argv), "seconds": args.seconds, "runs": args.runs,
                              "uvloop": args.uvloop, "results": data})
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
