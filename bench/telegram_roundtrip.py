"""Benchmark 7: Telegram round trip. The simulated Bot API POSTs a user's update to our webhook ->
`telegram_inbox` committed -> 200 -> the shared text conversation -> `telegram_outbox` -> RQ worker ->
python-telegram-bot -> the simulated Bot API accepts the reply (sendMessage, or for a press
answerCallbackQuery + editMessageText). Updates/s for a burst of linked users (one update each), CPU
per update of every process, and the latency from an update's first delivery to its reply accepted, at
a steady rate. Processes: `shortcode telegram-api`, `serve` (web only) and `worker`, on a private
redis-server and SQLite; the bare aiohttp + Redis hop of benchmark 1 is measured in the same run, and
with --with-sms the SMS round trip's burst too, on the same processes.

Telegram's bot-wide limit (~30 messages/s) is lifted on both sides ([telegram] max_per_second and the
simulator's global_per_s): the figure is our cost per update, Telegram's cap is a known number apart.

    .venv/bin/python bench/telegram_roundtrip.py [--burst 2000] [--rate 50] [--seconds 10] [--runs 3] [--with-sms]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import sms_roundtrip as sms
from bench.common import LOAD_CORE, PY, ROOT, SECRETS, SERVER_CORE, fmt, free_port, redis_server, save, spread, started
from bench.telegram_users import Api, User, gather_limited, home, link, say

TOKEN, SECRET = "123456:BENCH-token", "bench-tg-secret"
FIRST_NUMBER, FIRST_USER = 8613800000001, 700_000_001
UNCAPPED = "100000"  # messages a second: Telegram's bot-wide cap kept out of the measurement
# No gap between two messages to one chat on our side: each chat gets one message in the measured parts,
# but linking sends two (confirmation, menu), and one worker sleeping out a chat's gap holds back every
# other job (docs/benchmarks.md); the simulator still refuses a chat more than 5 at once.
PER_CHAT = "0"


def users(start: int, count: int) -> list[User]:
    """Users with the seeded subscribers' numbers; every other one presses a button instead of typing."""
    return [User(FIRST_USER + i, f"+{FIRST_NUMBER + i}", presses=i % 2 == 1) for i in range(start, start + count)]


async def burst(api: Api, batch: list[User]) -> dict:
    """All of `batch` act at once (32 in flight); updates/s from the first delivery to the last reply."""
    start = (await api.follow()).seq
    ids = await gather_limited(say(api, u) for u in batch)
    f = await api.until(lambda f: all(f.reply_after(u.user_id, start) for u in batch), 300)
    replies = [t for t in (f.reply_after(u.user_id, start) for u in batch) if t]
    first = min(f.delivered[i] for i in ids if i in f.delivered)
    return {"ups": len(replies) / (max(replies) - first), "missing": len(batch) - len(replies)}


async def steady(api: Api, batch: list[User], rate: float) -> dict:
    """One user acts every 1/rate s; latency from each update's first delivery to its reply accepted."""
    start, loop = (await api.follow()).seq, asyncio.get_running_loop()
    begin, tasks = loop.time(), []
    for i, u in enumerate(batch):
        await asyncio.sleep(max(0.0, begin + i / rate - loop.time()))
        tasks.append(asyncio.create_task(say(api, u)))
    ids = await asyncio.gather(*tasks)
    f = await api.until(lambda f: all(f.reply_after(u.user_id, start) for u in batch), 120)
    lat = sorted((r - f.delivered[i]) * 1000 for u, i in zip(batch, ids)
                 if (r := f.reply_after(u.user_id, start)) and i in f.delivered)
    return {"p50_ms": statistics.median(lat), "p99_ms": lat[max(0, int(len(lat) * 0.99) - 1)],
            "missing": len(batch) - len(lat)}


def cpu_ms(procs: dict, before: dict, count: int) -> dict[str, float]:
    return {k: (p.cpu_seconds() - before[k]) * 1000 / count for k, p in procs.items()}


async def one_run(base: str, gateway: str | None, procs: dict, sms_procs: dict, tg: list[User], steady_n: int,
                  numbers: list[str], rate: float, first: bool) -> dict:
    """The users linked (first run) or back at the main menu (untimed), then the burst, the steady phase
    and, with SMS, its burst."""
    out: dict = {}
    async with aiohttp.ClientSession() as http:
        api = Api(http, base)
        t0 = time.monotonic()
        await (link if first else home)(api, tg)
        out["setup_s"] = time.monotonic() - t0
        burst_users = tg[:len(tg) - steady_n]
        before = {k: p.cpu_seconds() for k, p in procs.items()}
        out["burst"] = await burst(api, burst_users)
        out["burst"]["cpu_ms"] = cpu_ms(procs, before, len(burst_users))
        out["steady"] = await steady(api, tg[len(tg) - steady_n:], rate)
    if gateway:
        before = {k: p.cpu_seconds() for k, p in sms_procs.items()}
        out["sms"] = await sms.burst(gateway, numbers)
        out["sms"]["cpu_ms"] = cpu_ms(sms_procs, before, len(numbers))
    return out


def per_core(cpu: dict[str, float]) -> float:
    """What one web core can carry: updates (or messages) a second at the web's CPU per one."""
    return 1000 / cpu["web"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--burst", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--with-sms", action="store_true", help="the SMS round trip's burst too, same processes")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-tg-"))
    steady_n, per_run = int(args.rate * args.seconds), int(args.rate * args.seconds) + args.burst
    sms_first = per_run  # the same Telegram users every run
    need = sms_first + (args.burst * args.runs if args.with_sms else 0)
    db_url = f"sqlite:///{tmp}/tg.db"
    subprocess.run([PY, "-m", "bot.tools.cli", "seed", "--demo", "--subscribers", str(need + 10)], cwd=ROOT,
                   check=True, env={"SHORTCODE_DATABASE_URL": db_url, "PATH": ""}, stdout=subprocess.DEVNULL)
    results: list[dict] = []
    baselines: list[float] = []
    with redis_server(tmp) as (redis_url, redis):
        web_port, tg_port, gw_port, base_port = free_port(), free_port(), free_port(), free_port()
        tg_base, gateway = f"http://127.0.0.1:{tg_port}", f"http://127.0.0.1:{gw_port}"
        env = {"SHORTCODE_DATABASE_URL": db_url, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_HTTP_PORT": str(web_port),
               "SHORTCODE_SMS_GATEWAY_URL": gateway, "SHORTCODE_JOBS_INPROCESS_WORKER": "false",
               "SHORTCODE_LOG_LEVEL": "warning", "SHORTCODE_TELEGRAM_ENABLED": "true",
               "SHORTCODE_TELEGRAM_TOKEN": TOKEN, "SHORTCODE_TELEGRAM_SECRET_TOKEN": SECRET,
               "SHORTCODE_TELEGRAM_API_URL": tg_base + "/bot", "SHORTCODE_TELEGRAM_MAX_PER_SECOND": UNCAPPED,
               "SHORTCODE_TELEGRAM_PER_CHAT_SECONDS": PER_CHAT}
        with started("telegram-api", [PY, "-m", "bot.tools.cli", "telegram-api"], LOAD_CORE, env, tmp, tg_port) as tga, \
                started("web", [PY, "-m", "bot.tools.cli", "serve"], SERVER_CORE, env, tmp, web_port) as web, \
                started("worker", [PY, "-m", "bot.tools.cli", "worker"], LOAD_CORE, env, tmp) as worker, \
                started("baseline", [PY, "bench/baseline_app.py", str(base_port), redis_url], SERVER_CORE, None, tmp,
                        base_port) as baseline, \
                (started("gateway", [PY, "-m", "bot.tools.cli", "gateway"], LOAD_CORE, env, tmp, gw_port)
                 if args.with_sms else nullcontext()) as gw:
            prepare(env, tg_base, web_port)
            procs = {"web": web, "worker": worker, "telegram-api": tga, "redis": redis}
            sms_procs = {"web": web, "worker": worker, "gateway": gw, "redis": redis} if gw else {}
            tg = users(0, per_run)
            for run in range(args.runs):
                numbers = [f"+{FIRST_NUMBER + sms_first + run * args.burst + i}" for i in range(args.burst)]
                r = asyncio.run(one_run(tg_base, gateway if gw else None, procs, sms_procs, tg, steady_n, numbers,
                                        args.rate, run == 0))
                r["baseline"] = sms.wrk_baseline(baseline, base_port, tmp)
                results.append(r)
                print_run(run, r, args.rate)
    report(args, results)


def prepare(env: dict, tg_base: str, web_port: int) -> None:
    """The simulator's bot-wide limit off (its per-chat one stays: each user sends one update), then the
    webhook registered by the operator's own command."""
    async def lift() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(tg_base + "/control/faults", json={"global_per_s": 0}) as r:
                assert r.status == 200, await r.text()
    asyncio.run(lift())
    subprocess.run([PY, "-m", "bot.tools.cli", "telegram", "set-webhook", f"http://127.0.0.1:{web_port}/telegram/webhook"],
                   cwd=ROOT, check=True, env={**os.environ, **SECRETS, **env}, stdout=subprocess.DEVNULL)


def print_run(run: int, r: dict, rate: float) -> None:
    b, s = r["burst"], r["steady"]
    setup = f"{'linking' if run == 0 else '/menu'} {r['setup_s']:.0f} s"
    line = (f"  run {run + 1} ({setup}): burst {b['ups']:,.0f} updates/s (missing {b['missing']}; CPU ms/update "
            + ", ".join(f"{k} {v:.2f}" for k, v in b["cpu_ms"].items())
            + f"), steady {rate:.0f}/s p50 {s['p50_ms']:.1f} ms p99 {s['p99_ms']:.1f} ms; baseline hop "
            f"{r['baseline']:,.0f} req/s")
    if "sms" in r:
        line += f"; SMS burst {r['sms']['mps']:,.0f} msg/s, web {r['sms']['cpu_ms']['web']:.2f} ms/message"
    print(line, flush=True)


def report(args: argparse.Namespace, results: list[dict]) -> None:
    ups, base = spread([r["burst"]["ups"] for r in results]), spread([r["baseline"] for r in results])
    p50, p99 = spread([r["steady"]["p50_ms"] for r in results]), spread([r["steady"]["p99_ms"] for r in results])
    missing = sum(r["burst"]["missing"] + r["steady"]["missing"] for r in results)
    cpu = _median_cpu([r["burst"]["cpu_ms"] for r in results])
    core = spread([per_core(r["burst"]["cpu_ms"]) for r in results])
    rows = [(f"burst of {args.burst:,}, first delivery → last reply accepted", f"{fmt(ups)} updates/s, {missing} missing"),
            ("CPU per update in the burst (median, ms)", ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())),
            ("updates/s per web core (1000 / web CPU ms)", fmt(core)),
            (f"steady {args.rate:.0f}/s for {args.seconds:.0f} s, delivery → reply accepted",
             f"p50 {fmt(p50, 1)} ms, p99 {fmt(p99, 1)} ms"),
            ("same-run baseline (bare hop, wrk, 64 connections)", f"{fmt(base)} req/s")]
    data = {"command": " ".join(sys.argv), "burst": args.burst, "rate": args.rate, "runs": args.runs,
            "burst_ups": ups, "steady_p50_ms": p50, "steady_p99_ms": p99, "missing": missing, "baseline_rps": base,
            "burst_cpu_ms_per_update": cpu, "ups_per_web_core": core}
    if results[0].get("sms"):
        mps, sms_cpu = spread([r["sms"]["mps"] for r in results]), _median_cpu([r["sms"]["cpu_ms"] for r in results])
        sms_core = spread([per_core(r["sms"]["cpu_ms"]) for r in results])
        rows += [(f"same-run SMS round trip, burst of {args.burst:,}", f"{fmt(mps)} messages/s, "
                  f"{sum(r['sms']['missing'] for r in results)} missing"),
                 ("SMS CPU per message (median, ms)", ", ".join(f"{k} {v:.2f}" for k, v in sms_cpu.items())),
                 ("SMS messages/s per web core", fmt(sms_core)),
                 ("Telegram per web core ÷ SMS per web core", f"{core['median'] / sms_core['median']:.2f}×")]
        data.update(sms_mps=mps, sms_cpu_ms_per_message=sms_cpu, sms_per_web_core=sms_core)
    print(f"\nTelegram round trip, median of {args.runs} (min-max)\n\n| measure | figure |\n|---|---|")
    for measure, figure in rows:
        print(f"| {measure} | {figure} |")
    path = save("telegram_roundtrip", data)
    print(f"\nwritten to {path.relative_to(ROOT)}")


def _median_cpu(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


if __name__ == "__main__":
    main()
