"""Benchmark 2: SMS round trip. Inbound webhook -> inbox -> engine -> outbox -> RQ worker -> simulated
gateway (-> delivery report back): messages/s end to end for a burst, and latency from the moment the
handset's text is injected at the gateway to the moment the gateway accepts the reply, at a steady rate.
Processes: gateway, `shortcode serve` (web only) and `shortcode worker`, on a private redis-server.
The bare aiohttp + Redis baseline of benchmark 1 is measured in the same run for scale.

    .venv/bin/python bench/sms_roundtrip.py [--burst 2000] [--rate 50] [--seconds 10] [--runs 3]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (LOAD_CORE, PY, ROOT, SERVER_CORE, fmt, free_port, redis_server, save, spread, started,
                          wrk)

KEYWORDS = ["BAL", "BILL", "PTS", "积分"]


async def inject(http: aiohttp.ClientSession, gateway: str, number: str, text: str) -> float:
    t0 = time.time()
    async with http.post(gateway + "/control/inbound", json={"from": number, "to": "12580", "text": text}) as r:
        await r.read()
    return t0


async def replies(http: aiohttp.ClientSession, gateway: str) -> dict[str, float]:
    async with http.get(gateway + "/control/stats") as r:
        stats = await r.json()
    return {m["to"]: m["accepted_at"] for m in stats["messages"]}


async def wait_all(http, gateway: str, numbers: list[str], timeout: float = 300) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        got = await replies(http, gateway)
        if all(n in got for n in numbers) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.2)


async def burst(gateway: str, numbers: list[str]) -> dict:
    sem = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as http:
        async def one(i: int, n: str) -> float:
            async with sem:
                return await inject(http, gateway, n, KEYWORDS[i % len(KEYWORDS)])
        sent = await asyncio.gather(*[one(i, n) for i, n in enumerate(numbers)])
        got = await wait_all(http, gateway, numbers)
    done = [got[n] for n in numbers if n in got]
    return {"mps": len(done) / (max(done) - min(sent)), "missing": len(numbers) - len(done)}


async def steady(gateway: str, numbers: list[str], rate: float) -> dict:
    async with aiohttp.ClientSession() as http:
        sent: dict[str, float] = {}
        start = time.monotonic()
        tasks = []
        for i, n in enumerate(numbers):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(inject(http, gateway, n, KEYWORDS[i % len(KEYWORDS)])))
        for n, t in zip(numbers, await asyncio.gather(*tasks)):
            sent[n] = t
        got = await wait_all(http, gateway, numbers)
    lat = sorted((got[n] - sent[n]) * 1000 for n in numbers if n in got)
    return {"p50_ms": statistics.median(lat), "p99_ms": lat[int(len(lat) * 0.99) - 1],
            "missing": len(numbers) - len(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--burst", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sms-"))
    db_url = f"sqlite:///{tmp}/sms.db"
    steady_n = int(args.rate * args.seconds)
    need = (args.burst + steady_n) * args.runs
    subprocess.run([PY, "-m", "bot.tools.cli", "seed", "--demo", "--subscribers", str(need + 10)], cwd=ROOT, check=True,
                   env={"SHORTCODE_DATABASE_URL": db_url, "PATH": ""}, stdout=subprocess.DEVNULL)
    numbers = [f"+{8613800000001 + i}" for i in range(need)]
    out: dict[str, list] = {"burst": [], "steady": [], "baseline": []}
    with redis_server(tmp) as (redis_url, _r):
        web_port, gw_port, base_port = free_port(), free_port(), free_port()
        env = {"SHORTCODE_DATABASE_URL": db_url, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_HTTP_PORT": str(web_port),
               "SHORTCODE_SMS_GATEWAY_URL": f"http://127.0.0.1:{gw_port}", "SHORTCODE_JOBS_INPROCESS_WORKER": "false",
               "SHORTCODE_LOG_LEVEL": "warning"}
        gateway = f"http://127.0.0.1:{gw_port}"
        with started("gateway", [PY, "-m", "bot.tools.cli", "gateway"], LOAD_CORE, env, tmp, gw_port) as gw, \
                started("web", [PY, "-m", "bot.tools.cli", "serve"], SERVER_CORE, env, tmp, web_port) as web, \
                started("worker", [PY, "-m", "bot.tools.cli", "worker"], LOAD_CORE, env, tmp) as worker, \
                started("baseline", [PY, "bench/baseline_app.py", str(base_port), redis_url], SERVER_CORE, None, tmp,
                        base_port) as baseline:
            used = 0
            procs = {"web": web, "worker": worker, "gateway": gw, "redis": _r}
            for run in range(args.runs):
                cpu0 = {k: p.cpu_seconds() for k, p in procs.items()}
                b = asyncio.run(burst(gateway, numbers[used:used + args.burst]))
                b["cpu_ms_per_message"] = {k: (p.cpu_seconds() - cpu0[k]) * 1000 / args.burst for k, p in procs.items()}
                used += args.burst
                s = asyncio.run(steady(gateway, numbers[used:used + steady_n], args.rate))
                used += steady_n
                out["burst"].append(b)
                out["steady"].append(s)
                bl = wrk_baseline(baseline, base_port, tmp)
                out["baseline"].append(bl)
                print(f"  run {run + 1}: burst {b['mps']:,.0f} msg/s (missing {b['missing']}; CPU ms/message "
                      + ", ".join(f"{k} {v:.2f}" for k, v in b["cpu_ms_per_message"].items()) + f"), steady {args.rate:.0f}/s "
                      f"p50 {s['p50_ms']:.1f} ms p99 {s['p99_ms']:.1f} ms; baseline hop {bl:,.0f} req/s", flush=True)
    mps = spread([b["mps"] for b in out["burst"]])
    p50, p99 = spread([s["p50_ms"] for s in out["steady"]]), spread([s["p99_ms"] for s in out["steady"]])
    base = spread(out["baseline"])
    missing = sum(b["missing"] for b in out["burst"]) + sum(s["missing"] for s in out["steady"])
    print(f"\nSMS round trip (inbound at the gateway -> reply accepted by the gateway), median of {args.runs} (min-max)")
    print(f"burst of {args.burst:,}: {fmt(mps)} messages/s end to end; missing replies: {missing}")
    cpu = {k: statistics.median(b["cpu_ms_per_message"][k] for b in out["burst"]) for k in out["burst"][0]["cpu_ms_per_message"]}
    print("CPU per message in the burst (median, ms): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print(f"steady {args.rate:.0f}/s for {args.seconds:.0f} s: p50 {fmt(p50, 1)} ms, p99 {fmt(p99, 1)} ms")
    print(f"same-run baseline (bare aiohttp + Redis GET/SET, wrk c=64): {fmt(base)} req/s")
    path = save("sms_roundtrip", {"command": " ".join(sys.argv), "burst": args.burst, "rate": args.rate,
                                  "runs": args.runs, "burst_mps": mps, "steady_p50_ms": p50, "steady_p99_ms": p99,
                                  "missing": missing, "baseline_rps": base, "burst_cpu_ms_per_message": cpu})
    print(f"\nwritten to {path.relative_to(ROOT)}")


def wrk_baseline(proc, port: int, tmp: Path) -> float:
    numbers = tmp / "baseline-numbers.txt"
    numbers.write_text("\n".join(f"+{8613800000001 + i}" for i in range(256)) + "\n")
    report = wrk(f"http://127.0.0.1:{port}/ussd/africastalking", Path(__file__).with_name("ussd.lua"), 64, 4,
                 {"BENCH_NUMBERS": str(numbers), "BENCH_PREFIX": "3*1*1*3", "BENCH_TAG": f"b{time.time_ns()}"})
    return report["requests"] / (report["duration_us"] / 1e6)


if __name__ == "__main__":
    main()
