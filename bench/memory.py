"""Benchmark 4: memory. Bytes per idle session in Redis (MEMORY USAGE of sessions parked deep in the
golf flow, and of the baseline's 500-byte JSON session for scale), and the RSS of the web process
before and after 100,000 sessions were opened (one dial each, wrk over loopback).

    .venv/bin/python bench/memory.py [--sessions 100000] [--runs 3]
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

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, ROOT, SERVER_CORE, fmt, free_port, redis_server, save, spread, started, wrk
from bench.ussd_turn import position

DIAL_LUA = """
local n, i = 0, 0
local numbers = {}
function init(args)
  for line in io.lines(os.getenv("BENCH_NUMBERS")) do n = n + 1; numbers[n] = line:gsub("%+", "%%2B") end
end
function request()
  i = i + 1
  if i > n then i = 1 end
  local body = "sessionId=" .. os.getenv("BENCH_TAG") .. i .. "&serviceCode=%2A126%23&phoneNumber=" ..
               numbers[i] .. "&networkCode=46000&text="
  return wrk.format("POST", "/ussd/africastalking?key=bench-secret",
                    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "status": %d, "timeout": %d, "not_con": 0}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def sessions(r: redis.Redis) -> int:
    return sum(1 for _ in r.scan_iter("sc:s:*", count=10_000))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    db_url = f"sqlite:///{tmp}/mem.db"
    subprocess.run([PY, "-m", "bot.tools.cli", "seed", "--demo", "--subscribers", str(args.sessions)], cwd=ROOT, check=True,
                   env={"SHORTCODE_DATABASE_URL": db_url, "PATH": ""}, stdout=subprocess.DEVNULL)
    script = tmp / "dial.lua"
    script.write_text(DIAL_LUA)
    per_session, baseline_bytes, rss_before, rss_after = [], [], [], []
    for run in range(args.runs):
        with redis_server(tmp) as (redis_url, _r):
            port, bport = free_port(), free_port()
            env = {"SHORTCODE_DATABASE_URL": db_url, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_HTTP_PORT": str(port),
                   "SHORTCODE_JOBS_INPROCESS_WORKER": "false", "SHORTCODE_LOG_LEVEL": "warning",
                   "SHORTCODE_SESSION_RESUME_WINDOW": "3600"}
            with started("web", [PY, "-m", "bot.tools.cli", "serve"], SERVER_CORE, env, tmp, port) as web, \
                    started("baseline", [PY, "bench/baseline_app.py", str(bport), redis_url], SERVER_CORE, None, tmp,
                            bport):
                from sqlalchemy import create_engine, text
                engine = create_engine(db_url)
                with engine.connect() as conn:
                    deep = conn.execute(text("SELECT msisdn FROM subscriber WHERE tier != 'regular' LIMIT 200")).scalars().all()
                    everyone = conn.execute(text("SELECT msisdn FROM subscriber")).scalars().all()
                engine.dispose()
                asyncio.run(position(f"http://127.0.0.1:{port}", list(deep), f"m{run}x"))
                asyncio.run(position(f"http://127.0.0.1:{bport}", list(deep)[:50], f"b{run}x"))
                r = redis.Redis.from_url(redis_url)
                per_session.append(statistics.mean(r.memory_usage(f"sc:s:{n}", samples=0) for n in deep))
                baseline_bytes.append(statistics.mean(r.memory_usage(f"bl:b{run}x{i}", samples=0) for i in range(1, 51)))
                time.sleep(1)
                rss_before.append(web.rss_bytes())
                numbers = tmp / "everyone.txt"
                numbers.write_text("\n".join(everyone) + "\n")
                seconds, deadline = 2, time.monotonic() + 600
                while sessions(r) < args.sessions and time.monotonic() < deadline:  # every subscriber has one
                    wrk(f"http://127.0.0.1:{port}/ussd/africastalking", script, 64, seconds,
                        {"BENCH_NUMBERS": str(numbers), "BENCH_TAG": f"d{run}x"})
                    seconds = max(2, int((args.sessions - sessions(r)) / 1500) + 1)
                rss_after.append(web.rss_bytes())
                print(f"  run {run + 1}: {per_session[-1]:.0f} B a session (baseline {baseline_bytes[-1]:.0f} B); "
                      f"RSS {rss_before[-1] / 2**20:.1f} -> {rss_after[-1] / 2**20:.1f} MiB", flush=True)
    s, b = spread(per_session), spread(baseline_bytes)
    before, after = spread([x / 2**20 for x in rss_before]), spread([x / 2**20 for x in rss_after])
    print(f"\nMemory, median of {args.runs} (min-max)")
    print(f"idle session deep in golf (Redis MEMORY USAGE): {fmt(s)} bytes (target <= 700); "
          f"baseline's 500-byte JSON session: {fmt(b)} bytes")
    print(f"web process RSS: {fmt(before, 1)} MiB at start -> {fmt(after, 1)} MiB after {args.sessions:,} sessions")
    path = save("memory", {"command": " ".join(sys.argv), "sessions": args.sessions, "runs": args.runs,
                           "bytes_per_session": s, "baseline_bytes_per_session": b, "rss_mib_before": before,
                           "rss_mib_after": after})
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
