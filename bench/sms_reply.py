"""Benchmark 11: the inbound SMS reply path, the web process's share. N signed inbound texts from N distinct
subscribers, posted the way a gateway does (`--concurrency` in flight) straight to a real `shortcode serve`
over loopback: half are "1" replies to a low-balance reminder (`reminder_goto`, as a campaign leaves them),
the rest keywords and a little free text. A run ends when every text is answered (its inbox row processed,
its reply in the outbox and handed to RQ). Reported: the web process's CPU per message (utime + stime from
/proc before and after), messages/s, and the same-run baseline: bench/baseline_app.py (a bare aiohttp form
POST with one Redis GET and SET) under the same client, its CPU per request.

    .venv/bin/python bench/sms_reply.py [--messages 2000] [--concurrency 32] [--runs 3] [--tree DIR]
        [--profile FILE.svg]

`--tree DIR` runs `serve` from another checkout (a "before" measured in the same run as this one's "after").
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (LOAD_CORE, PY, ROOT, SECRETS, SERVER_CORE, free_port, redis_server, save, spread,
                          started)

TEXTS = ["1", "1", "DOC", "1", "PTS", "1", "BILL", "1", "积分", "hello"]  # half are replies to a reminder
SECRET = SECRETS["SHORTCODE_SMS_SECRETS"]


def plant_reminders(db_url: str, numbers: list[str]) -> None:
    """A low-balance reminder sent to each of `numbers`: its outbox row (sent) and its goto, as a run writes."""
    from sqlalchemy import insert

    from integrations.sqltx import make_engine
    from jobs.tables import Outbox, ReminderGoto

    engine, now = make_engine(db_url), datetime.now(timezone.utc)
    cause = [f"rem:low-balance:bench:{n}" for n in numbers]
    with engine.begin() as conn:
        conn.execute(insert(Outbox.__table__), [dict(msisdn=n, text="Reply 1 to top up", cause=c, kind="reminder",
                                                     status="sent", next_attempt_at=now, created_at=now)
                                                for n, c in zip(numbers, cause)])
        conn.execute(insert(ReminderGoto.__table__), [dict(msisdn=n, kind="low-balance", goto="points.topup",
                                                           params='{"reward":"topup50"}', cause=c,
                                                           expires_at=now + timedelta(hours=48))
                                                      for n, c in zip(numbers, cause)])
    engine.dispose()


def unanswered(db_url: str) -> int:
    import sqlite3

    with sqlite3.connect(db_url[len("sqlite:///"):], timeout=10) as conn:
        return conn.execute("SELECT count(*) FROM sms_inbox WHERE processed_at IS NULL").fetchone()[0]


def signed(form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    from integrations.smsgateway.signing import headers

    body = urlencode(form).encode()
    return body, {**headers(SECRET, body), "Content-Type": "application/x-www-form-urlencoded"}


async def post_all(url: str, forms: list[dict[str, str]], concurrency: int, sign: bool) -> list[int]:
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def one(form: dict[str, str]) -> int:
            body, hdrs = signed(form) if sign else (urlencode(form).encode(),
                                                    {"Content-Type": "application/x-www-form-urlencoded"})
            async with sem, http.post(url, data=body, headers=hdrs) as r:
                await r.read()
                return r.status
        return await asyncio.gather(*[one(f) for f in forms])


def inbound_forms(numbers: list[str], run: int) -> list[dict[str, str]]:
    return [{"from": n, "to": "12580", "id": f"bench-{run}-{i}", "text": TEXTS[i % len(TEXTS)]}
            for i, n in enumerate(numbers)]


def system_seconds(pid: int) -> float:
    """The kernel's share of a process's CPU (stime): thread hand-offs and sockets."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[12]) / os.sysconf("SC_CLK_TCK")


def loop_seconds(pid: int) -> float:
    """CPU of the process's main thread (the event loop), apart from its worker threads (SQLite writes)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reply_run(web, port: int, db_url: str, numbers: list[str], run: int, concurrency: int) -> dict:
    """Post the texts, wait until each is answered; the web process's CPU over the whole of it."""
    cpu0, sys0, loop0, t0 = web.cpu_seconds(), system_seconds(web.pid), loop_seconds(web.pid), time.monotonic()
    statuses = asyncio.run(post_all(f"http://127.0.0.1:{port}/sms/inbound", inbound_forms(numbers, run),
                                    concurrency, sign=True))
    posted = time.monotonic()
    while unanswered(db_url) and time.monotonic() - posted < 300:
        time.sleep(0.02)
    elapsed, cpu = time.monotonic() - t0, web.cpu_seconds() - cpu0
    bad = sum(s != 200 for s in statuses)
    return {"cpu_ms": cpu * 1000 / len(numbers), "mps": len(numbers) / elapsed, "non_200": bad,
            "system_ms": (system_seconds(web.pid) - sys0) * 1000 / len(numbers),
            "loop_ms": (loop_seconds(web.pid) - loop0) * 1000 / len(numbers),
            "ack_mps": len(numbers) / (posted - t0), "unanswered": unanswered(db_url)}


def baseline_run(base, port: int, numbers: list[str], run: int, concurrency: int) -> dict:
    forms = [{"sessionId": f"bl-{run}-{i}", "phoneNumber": n, "serviceCode": "*126#", "text": "1"}
             for i, n in enumerate(numbers)]
    cpu0, t0 = base.cpu_seconds(), time.monotonic()
    asyncio.run(post_all(f"http://127.0.0.1:{port}/ussd/africastalking?key=bench-secret", forms, concurrency,
                         sign=False))
    return {"cpu_ms": (base.cpu_seconds() - cpu0) * 1000 / len(numbers),
            "mps": len(numbers) / (time.monotonic() - t0)}


def profile(pid: int, out: str, seconds: float) -> subprocess.Popen:
    spy = Path(PY).with_name("py-spy")
    form = {".json": "speedscope", ".txt": "raw"}.get(Path(out).suffix, "flamegraph")
    return subprocess.Popen([str(spy), "record", "-p", str(pid), "-o", out, "-d", str(int(seconds)), "-r", "250",
                             "--nonblocking", "--threads", "-f", form], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tree", help="run serve from this checkout instead of this one")
    ap.add_argument("--profile", help="py-spy the web process over the last run into this file "
                                      "(.svg, .json or .txt: collapsed stacks)")
    return ap.parse_args()


def prepare(tree: Path, tmp: Path, args: argparse.Namespace) -> tuple[str, list[str]]:
    """A seeded scratch database with a reminder planted for every subscriber who will text "1"."""
    db_url = f"sqlite:///{tmp}/reply.db"
    need = args.messages * args.runs
    subprocess.run([PY, "-m", "bot.tools.cli", "seed", "--demo", "--subscribers", str(need + 10)], cwd=tree,
                   check=True, env={"SHORTCODE_DATABASE_URL": db_url, "PATH": "", "PYTHONPATH": str(tree)},
                   stdout=subprocess.DEVNULL)
    numbers = [f"+{8613800000001 + i}" for i in range(need)]
    plant_reminders(db_url, [n for i, n in enumerate(numbers) if TEXTS[i % args.messages % len(TEXTS)] == "1"])
    return db_url, numbers


def show(run: int, r: dict, b: dict) -> None:
    print(f"  run {run + 1}: web {r['cpu_ms']:.2f} ms CPU/message (event loop {r['loop_ms']:.2f}, "
          f"kernel {r['system_ms']:.2f}), {r['mps']:,.0f} msg/s answered ({r['ack_mps']:,.0f}/s "
          f"acknowledged; non-200 {r['non_200']}, unanswered {r['unanswered']}); baseline "
          f"{b['cpu_ms']:.2f} ms CPU/request, {b['mps']:,.0f} req/s", flush=True)


def main() -> None:
    args = arguments()
    if LOAD_CORE and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(LOAD_CORE)})  # the client beside Redis, off the server's core
    tree = Path(args.tree).resolve() if args.tree else ROOT
    tmp = Path(tempfile.mkdtemp(prefix="bench-reply-"))
    db_url, numbers = prepare(tree, tmp, args)
    out: dict[str, list] = {"reply": [], "baseline": []}
    with redis_server(tmp) as (redis_url, _r):
        web_port, base_port = free_port(), free_port()
        env = {"SHORTCODE_DATABASE_URL": db_url, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_HTTP_PORT": str(web_port),
               "SHORTCODE_JOBS_INPROCESS_WORKER": "false", "SHORTCODE_LOG_LEVEL": "warning", "PYTHONPATH": str(tree)}
        with started("web", [PY, "-m", "bot.tools.cli", "serve"], SERVER_CORE, env, tmp, web_port, tree) as web, \
                started("baseline", [PY, "bench/baseline_app.py", str(base_port), redis_url], SERVER_CORE, None, tmp,
                        base_port) as base:
            for run in range(args.runs):
                batch = numbers[run * args.messages:(run + 1) * args.messages]
                spy = profile(web.pid, args.profile, 60) if args.profile and run == args.runs - 1 else None
                out["reply"].append(reply_run(web, web_port, db_url, batch, run, args.concurrency))
                if spy:
                    spy.send_signal(2)
                    spy.wait(30)
                out["baseline"].append(baseline_run(base, base_port, batch, run, args.concurrency))
                show(run, out["reply"][-1], out["baseline"][-1])
    report(args, out)


def report(args: argparse.Namespace, out: dict) -> None:
    cpu, mps = spread([r["cpu_ms"] for r in out["reply"]]), spread([r["mps"] for r in out["reply"]])
    bcpu, bmps = spread([b["cpu_ms"] for b in out["baseline"]]), spread([b["mps"] for b in out["baseline"]])
    load = os.getloadavg()
    print(f"\nInbound SMS replies, {args.messages:,} a run, {args.concurrency} in flight, "
          f"median of {args.runs} (min-max)")
    print(f"web CPU per message: {cpu['median']:.2f} ms ({cpu['min']:.2f}-{cpu['max']:.2f}); "
          f"{mps['median']:,.0f} msg/s answered ({mps['min']:,.0f}-{mps['max']:,.0f})")
    print(f"same-run baseline (bare aiohttp form POST + Redis GET/SET): {bcpu['median']:.2f} ms CPU/request, "
          f"{bmps['median']:,.0f} req/s; ratio {cpu['median'] / bcpu['median']:.1f}x")
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    lost = sum(r["unanswered"] + r["non_200"] for r in out["reply"])
    if lost:
        print(f"WARNING: {lost} texts refused or never answered")
    path = save("sms_reply", {"command": " ".join(sys.argv), "messages": args.messages, "tree": args.tree or "",
                              "concurrency": args.concurrency, "runs": args.runs, "cpu_ms": cpu, "mps": mps,
                              "baseline_cpu_ms": bcpu, "baseline_mps": bmps, "loadavg": load, "raw": out})
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
