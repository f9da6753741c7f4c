"""Benchmark 11: a care campaign to N subscribers, from the launch to the last message accepted by the simulated
gateway, on SQLite and on PostgreSQL, beside the same-run baseline of bare batched RQ jobs (as benchmark 8).

The campaign goes to everyone (audience `{}`), 10 % held back as the control group, with a points offer (so
each message also writes the reply's goto). It is created, previewed (the audience chosen: timed apart, as an
agent does it before the launch) and approved before the clock starts; the clock runs from `launch` +
`queue_run` (what the admin API does) until the gateway accepted every message the run wrote. Real processes:
redis-server, `shortcode gateway` (delivery reports off) and 1 or 2 `shortcode worker`s; the gate runs for
every row (opt-out, a quiet window twelve hours away, the `marketing` caps: one message each, none capped).
`--reminder` also measures benchmark 8's reminder run on the same data in the same run.

    .venv/bin/python bench/campaign_run.py [--subscribers 100000] [--backends sqlite,postgresql]
        [--workers 2] [--timeout 1800] [--reminder]
"""
from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, postgres_server, save
from bench.reminder_run import (QUEUE, baseline, control, each_backend, measure as measure_reminder, parser, reset,
                                stage, statuses)

EMPTIED = ("campaign_member", "campaign")
SPEC = {"name": "bench", "audience": {}, "text": {"en": "We value you.", "zh": "感谢您的一路相伴。"},
        "offer": {"points": 2000}}


def seed(db_url: str, n: int, care: bool) -> float:
    """Demo subscribers (with the reminders' care data only when the reminder run is measured too)."""
    from bot.db import make_engine, upgrade
    from bot.tools.seed import seed_demo

    from bench.reminder_run import AT

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        return seed_demo(engine, n, care=care, now=AT)[1]
    finally:
        engine.dispose()


def prepared(db_url: str) -> tuple[int, dict]:
    """A fresh campaign, previewed and approved: its id and the preview's counts and seconds."""
    from sqlalchemy import text

    from bot.db import make_engine
    from bot.i18n import load_catalogs
    from jobs import campaigns as c
    from jobs.audit import Actor

    reset(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for table in EMPTIED:
            conn.execute(text(f"DELETE FROM {table}"))
    now, agent = datetime.now(timezone.utc), Actor("bench", "admin", "bench")
    cid = c.create(engine, SPEC, agent, now)["id"]
    t = time.perf_counter()
    shown = c.preview(engine, cid, agent, now, load_catalogs(ROOT / "locale"), None)
    preview_s = time.perf_counter() - t
    c.approve(engine, cid, Actor("bench2", "admin", "bench"), now, 10**9)
    engine.dispose()
    return cid, {"audience": shown["audience"], "control": shown["control"], "preview_s": round(preview_s, 1)}


def state(db_url: str, cid: int) -> tuple[str, int]:
    from sqlalchemy import text

    from bot.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT state, written FROM campaign WHERE id = :id"), {"id": cid}).one()
    engine.dispose()
    return found[0], found[1]


def launch(db_url: str, redis_url: str, cid: int) -> None:
    """What `POST /admin/campaigns/{id}/launch` does: the move, then the run queued."""
    import redis
    from rq import Queue

    from bot.db import make_engine
    from jobs import campaigns as c
    from jobs.audit import Actor
    from jobs.campaign_run import queue_run

    engine = make_engine(db_url)
    c.launch(engine, cid, Actor("bench", "admin", "bench"), datetime.now(timezone.utc))
    engine.dispose()
    queue_run(Queue(QUEUE, connection=redis.Redis.from_url(redis_url)))(cid, None)


def wait(db_url: str, cid: int, gateway: str, timeout: float) -> dict:
    """Until the campaign is done and the gateway accepted every message it wrote (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, written = state(db_url, cid)
        counts = control(gateway, "/control/counts")
        if found == "done" and counts["accepted"] >= written:
            return {**counts, "written": written}
        time.sleep(0.5)
    return {}


def measure(db_url: str, redis: tuple, n_workers: int, tmp: Path, timeout: float, pg=None) -> dict:
    cid, preview = prepared(db_url)
    with stage(db_url, redis, n_workers, tmp, pg) as (gateway, quiet, procs, meter):
        launch(db_url, redis[0], cid)
        counts = wait(db_url, cid, gateway, timeout)
        cpu, (load0, load1), t0 = meter.stop(), meter.loads(), meter.t0
    if not counts:
        return {"workers": n_workers, "finished": False, "timeout_s": timeout, "load": [load0, load1], **preview}
    total = counts["last_accepted_at"] - t0
    return {"workers": n_workers, "finished": True, "total_s": round(total, 1), **preview,
            "messages_per_s": round(counts["accepted"] / total), "accepted": counts["accepted"],
            "written": counts["written"], "first_accept_s": round(counts["first_accepted_at"] - t0, 1),
            "outbox": statuses(db_url), "cpu_s": cpu, "load": [load0, load1], "quiet_hours": quiet}


def backend(name: str, args, tmp: Path, redis: tuple) -> dict:
    with (postgres_server(tmp) if name == "postgresql" else nullcontext()) as pg:
        db_url = pg.url if pg else f"sqlite:///{tmp}/campaigns.db"
        seconds = seed(db_url, args.subscribers, care=args.reminder)
        print(f"{name}: seeded {args.subscribers:,} subscribers in {seconds:.1f} s", flush=True)
        out = {"seed_s": round(seconds, 1), "runs": [], "baseline": [], "reminder": []}
        for n in args.workers:
            out["baseline"].append(baseline(redis[0], args.subscribers, n))
            print(f"  baseline {n} worker(s): {out['baseline'][-1]}", flush=True)
            out["runs"].append(measure(db_url, redis, n, tmp, args.timeout, pg))
            print(f"  campaign {n} worker(s): {json.dumps(out['runs'][-1])}", flush=True)
            if args.reminder:
                out["reminder"].append(measure_reminder(db_url, redis, n, tmp, args.timeout, pg))
                print(f"  reminder run {n} worker(s): {json.dumps(out['reminder'][-1])}", flush=True)
    return out


def report(results: dict, n: int) -> None:
    print(f"\nA campaign to {n:,} subscribers (10 % control), launch to last accept (target: 1,000,000 under 300 s)")
    print(f"{'backend':11} {'workers':>7} {'messages':>9} {'total s':>8} {'msg/s':>8} {'preview s':>9} "
          f"{'baseline msg/s':>15} {'reminder msg/s':>15}  load")
    for name, data in results.items():
        for i, (run, base) in enumerate(zip(data["runs"], data["baseline"])):
            rem = data["reminder"][i]["messages_per_s"] if data["reminder"] and data["reminder"][i]["finished"] else "-"
            if not run["finished"]:
                print(f"{name:11} {run['workers']:>7} did not finish in {run['timeout_s']:.0f} s")
                continue
            print(f"{name:11} {run['workers']:>7} {run['accepted']:>9,} {run['total_s']:>8.1f} "
                  f"{run['messages_per_s']:>8,} {run['preview_s']:>9.1f} {base['messages_per_s']:>15,} "
                  f"{rem:>15}  {run['load'][0][0]:.2f} -> {run['load'][1][0]:.2f}")


def main() -> None:
    ap = parser(__doc__, 100_000, "2")
    ap.add_argument("--reminder", action="store_true", help="also measure benchmark 8's reminder run")
    args = ap.parse_args()
    results = each_backend(args, backend, "bench-campaigns-")
    report(results, args.subscribers)
    path = save("campaign_run", {"command": " ".join(sys.argv), "subscribers": args.subscribers, "results": results})
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
