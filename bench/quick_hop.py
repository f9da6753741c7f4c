"""Quick figure: latency of one USSD hop over loopback against `shortcode serve`.

Starts the service (embedded store, or a real Redis with --redis URL) on a free port, sends a bounded
number of sequential hops that walk the account flow, prints median and p99, stops the service.
Real benchmarks (throughput, baselines) belong to `make bench`.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SECRETS, USSD_KEY  # noqa: E402
WALK = ["", "1", "1*1", "1*1*0", "1*1*0*2", "1*1*0*2*00", "1*1*0*2*00*2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(base: str, hops: int) -> list[float]:
    times: list[float] = []
    async with aiohttp.ClientSession() as http:
        for n in range(hops):
            form = {"sessionId": f"b{n // len(WALK)}", "serviceCode": "*126#",
                    "phoneNumber": f"+86138{n // len(WALK) % 900 + 1:08d}", "networkCode": "46000",
                    "text": WALK[n % len(WALK)]}
            started = time.perf_counter()
            async with http.post(f"{base}/ussd/africastalking?key={USSD_KEY}", data=form) as r:
                body = await r.text()
            times.append(time.perf_counter() - started)
            assert r.status == 200 and body[:4] in ("CON ", "END "), body
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hops", type=int, default=2000)
    p.add_argument("--redis", default="embedded")
    args = p.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SHORTCODE_REDIS_URL": args.redis,
               "SHORTCODE_LOG_LEVEL": "warning", **SECRETS}
        subprocess.run([sys.executable, "-m", "bot.tools.cli", "seed", "--demo"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        server = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            times = asyncio.run(run(f"http://127.0.0.1:{port}", args.hops))
        finally:
            server.terminate()
            server.wait(10)
    times.sort()
    print(f"store={args.redis} hops={len(times)} median={statistics.median(times) * 1000:.2f} ms "
          f"p99={times[int(len(times) * 0.99)] * 1000:.2f} ms")


if __name__ == "__main__":
    main()
