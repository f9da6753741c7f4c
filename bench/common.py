"""Shared parts of the benchmarks: processes pinned to cores and stopped by PID, a private redis-server,
wrk runs parsed from its Lua `done()` report, CPU time read from /proc, medians with min-max, results
written as JSON under bench/results/."""
from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
SERVER_CORE, LOAD_CORE = "0", "1"  # the server alone on one core; load generator and Redis on the other
# The benchmarks' own secrets (`serve` refuses empty or shipped ones outside the loopback demo); every
# process `started` gets them. bench/ussd.lua and bench/baseline_app.py use the same USSD key.
USSD_KEY = "bench-secret"
SECRETS = {"SHORTCODE_USSD_SECRET": USSD_KEY, "SHORTCODE_SMS_SECRETS": "bench-sms-secret",
           "SHORTCODE_SMS_API_KEY": "bench-key"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(core: str, argv: list[str]) -> list[str]:
    return (["taskset", "-c", core] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []) + argv


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (its threads included)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


@contextmanager
def started(name: str, argv: list[str], core: str, env: dict | None = None, tmp: Path | None = None,
            ready_port: int | None = None, cwd: Path = ROOT) -> Iterator[Proc]:
    log = (tmp or Path("/tmp")) / f"bench-{name}.log"
    popen = subprocess.Popen(pinned(core, argv), env={**os.environ, **SECRETS, **(env or {})}, cwd=cwd,
                             stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    proc = Proc(name, popen, log)
    try:
        if ready_port:
            wait_port(ready_port, proc)
        yield proc
    finally:
        proc.stop()


def wait_port(port: int, proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: {proc.log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{proc.name} did not open port {port}")


@contextmanager
def redis_server(tmp: Path) -> Iterator[tuple[str, Proc]]:
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp)]
    with started("redis", argv, LOAD_CORE, tmp=tmp, ready_port=port) as proc:
        yield f"redis://127.0.0.1:{port}/0", proc


def wrk(url: str, script: Path, connections: int, seconds: float, env: dict) -> dict:
    """One wrk run; the script's done() prints one JSON line with requests, errors and latencies (µs)."""
    argv = pinned(LOAD_CORE, ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s",
                              "-s", str(script), url])
    out = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no report:\n{out.stdout}\n{out.stderr}")
    return json.loads(line)


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def fmt(s: dict, digits: int = 0) -> str:
    return f"{s['median']:,.{digits}f} ({s['min']:,.{digits}f}-{s['max']:,.{digits}f})"


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    import aiohttp
    import redis

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "aiohttp": aiohttp.__version__, "redis_py": redis.__version__,
            "redis_server": subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip(),
            "kernel": platform.release()}


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2, ensure_ascii=False))
    return path


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user when we are root (as tests/conftest.py)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Postgres:
    """A private PostgreSQL cluster on a free loopback port; `cpu_seconds` counts the postmaster and every
    backend, those that exited included (the postmaster's reaped children's time)."""

    url: str
    data: Path

    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def cpu_seconds(self) -> float:
        tick, root, total = os.sysconf("SC_CLK_TCK"), self.pid(), 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(stat.parent.name)
            if pid == root:
                total += sum(int(f) for f in fields[11:15]) / tick  # its own time and its reaped children's
            elif int(fields[1]) == root:
                total += (int(fields[11]) + int(fields[12])) / tick
        return total


@contextmanager
def postgres_server(tmp: Path, keep: Path | None = None) -> Iterator[Postgres]:
    """initdb and pg_ctl as the test suite does (fsync off: a benchmark's cluster is thrown away). With `keep`,
    the cluster lives there and is started again by the next run (a seeded million is reused)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    base = keep or Path(tempfile.mkdtemp(prefix="bench-pg-"))  # not under `tmp`: postgres must enter it
    bindir, fresh = bins[-1].parent, not (base / "data").exists()
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    if fresh:
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                     "-E", "UTF8", "--locale=C"]), check=True, stdout=subprocess.DEVNULL)
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l",
                                 str(base / "log"), "start"]), check=True, stdout=subprocess.DEVNULL)
    try:
        if fresh:
            subprocess.run(_as_postgres([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                                         "postgres", "bench"]), check=True)
        yield Postgres(f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench", data)
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast" if keep else "immediate",
                                     "stop"]), stdout=subprocess.DEVNULL)
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
