"""Benchmark 9: the simulated SMS gateway's bulk submit. This process submits N messages to `shortcode gateway`
(delivery reports off) in bulk requests with `GatewayClient.send_many`, one request at a time as a worker
does, and reports messages/s, the gateway's CPU per message (from /proc) and the client's (this process),
beside the same-run baseline: the same client posting to a bare aiohttp server that answers the same JSON
shape with no logic (`bench/baseline_gateway.py`). Each run starts a fresh gateway.

    .venv/bin/python bench/gateway_submit.py [--messages 100000] [--batch 100] [--runs 3] [--profile DIR]

`--profile DIR` records the gateway and this process with py-spy (100 Hz, raw collapsed stacks), which needs
`.venv/bin/pip install py-spy` (not a dependency of the project).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bulk_jobs import render
from bench.common import LOAD_CORE, PY, ROOT, SECRETS, SERVER_CORE, Proc, fmt, free_port, save, spread, started
from integrations.smsgateway.client import GatewayClient

Batch = list[tuple[str, str, str]]


def messages(n: int, batch: int) -> list[Batch]:
    """Unique numbers, references and texts (half English GSM-7, half Chinese UCS-2), as a reminder run has."""
    def text(i: int) -> str:
        return render(i) if i % 2 else f"您的11月账单为¥{i % 997}.{i % 100:02d}元，请于12月{i % 28 + 1}日前缴纳。回复STOP退订。"

    rows = [(f"+86139{i:08d}", text(i), f"bench:{i}") for i in range(n)]
    return [rows[i:i + batch] for i in range(0, n, batch)]


def submit(client: GatewayClient, batches: list[Batch]) -> dict:
    """Every batch in order, one request at a time; every message must be accepted with its own id."""
    ids: set[str] = set()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for batch in batches:
        for submitted in client.send_many(batch, "12580"):
            if not submitted.accepted:
                raise RuntimeError(f"not accepted: {submitted}")
            ids.add(submitted.message_id)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = sum(map(len, batches))
    if len(ids) != n:
        raise RuntimeError(f"{len(ids)} distinct message ids for {n} messages")
    return {"seconds": wall, "mps": n / wall, "client_cpu_us": cpu * 1e6 / n, "client_wall_us": wall * 1e6 / n}


def measured(proc: Proc, url: str, batches: list[Batch], profile: Path | None, tag: str) -> dict:
    """One submit of every batch, with the server's CPU over exactly that span (its start-up excluded)."""
    client = GatewayClient(url, "shortcode", SECRETS["SHORTCODE_SMS_API_KEY"])
    client.send_many([("+8613900000000", "warm-up", f"warm:{tag}")], "12580")  # imports, first connection
    spies = [spy(proc.pid, profile / f"{tag}-server.txt"), spy(os.getpid(), profile / f"{tag}-client.txt")] \
        if profile else []
    cpu0 = proc.cpu_seconds()
    result = submit(client, batches)
    result["server_cpu_us"] = (proc.cpu_seconds() - cpu0) * 1e6 / sum(map(len, batches))
    for p in spies:
        p.send_signal(signal.SIGINT)
        p.wait(30)
    return result


def spy(pid: int, out: Path) -> subprocess.Popen:
    argv = [str(Path(PY).with_name("py-spy")), "record", "--pid", str(pid), "-r", "100", "--nonblocking", "-f", "raw", "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def control(url: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def gateway_run(batches: list[Batch], tmp: Path, profile: Path | None, tag: str) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SHORTCODE_SMS_GATEWAY_URL": url}
    with started("gateway", [PY, "-m", "bot.tools.cli", "gateway"], SERVER_CORE, env, tmp, port) as proc:
        control(url, "/control/faults", {"dlr": False})
        result = measured(proc, url, batches, profile, tag)
        counts = control(url, "/control/counts")
        result["rss_mb"] = proc.rss_bytes() / 2**20
    if counts["accepted"] != sum(map(len, batches)) + 1:  # the warm-up message too
        raise RuntimeError(f"the gateway counted {counts}")
    return result


def baseline_run(batches: list[Batch], tmp: Path, profile: Path | None, tag: str) -> dict:
    port = free_port()
    with started("baseline", [PY, "bench/baseline_gateway.py", str(port)], SERVER_CORE, None, tmp, port) as proc:
        return measured(proc, f"http://127.0.0.1:{port}", batches, profile, tag)


def show(name: str, runs: list[dict], key: str, digits: int = 0) -> str:
    return f"{name} {fmt(spread([r[key] for r in runs]), digits)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", type=Path, help="record py-spy profiles into this folder")
    args = ap.parse_args()
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(LOAD_CORE)})  # the servers run alone on the other core
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    batches = messages(args.messages, args.batch)
    out: dict[str, list[dict]] = {"gateway": [], "baseline": []}
    runs: list[tuple[str, Callable]] = [("baseline", baseline_run), ("gateway", gateway_run)]
    with tempfile.TemporaryDirectory(prefix="bench-gw-") as tmp:
        for run in range(args.runs):
            for name, fn in runs:
                r = fn(batches, Path(tmp), args.profile, f"{name}{run + 1}")
                out[name].append(r)
                print(f"  run {run + 1} {name}: {r['mps']:,.0f} msg/s, server CPU {r['server_cpu_us']:.1f} µs/msg, "
                      f"client CPU {r['client_cpu_us']:.1f} µs/msg, client wall {r['client_wall_us']:.1f} µs/msg",
                      flush=True)
    print(f"\nBulk submit of {args.messages:,} messages, {args.batch} a request, median of {args.runs} (min-max)")
    for name in ("gateway", "baseline"):
        print(f"{name:>8}: " + ", ".join([show("messages/s", out[name], "mps"),
                                          show("server CPU µs/msg", out[name], "server_cpu_us", 1),
                                          show("client CPU µs/msg", out[name], "client_cpu_us", 1)]))
    print(f"gateway RSS at the end: {fmt(spread([r['rss_mb'] for r in out['gateway']]))} MiB")
    load = os.getloadavg()
    path = save("gateway_submit", {"command": " ".join(sys.argv), "messages": args.messages, "batch": args.batch,
                                   "load_at_end": load, **out})
    print(f"load average at the end: {load[0]:.2f}; written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
