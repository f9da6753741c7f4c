"""`shortcode cluster up` starts the whole topology in the foreground and Ctrl-C leaves no process behind;
`status` and `down` read what it recorded."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bot.tools.cluster import alive
from tests.conftest import free_port
from tests.processes import ROOT


def _ports() -> list[str]:
    return ["--serve-port", str(free_port()), "--gateway-port", str(free_port()), "--telegram-port", str(free_port()),
            "--redis-port", str(free_port()), "--postgres-port", str(free_port())]


@pytest.fixture
def folder():
    base = Path(tempfile.mkdtemp(prefix="shortcode-cluster-cli-"))  # PostgreSQL must enter it: not tmpfs 0700
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.tools.cli", "cluster", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert proc.poll() is None, path.read_text(errors="replace")
        assert time.monotonic() < deadline, path.read_text(errors="replace")
        time.sleep(0.2)


def test_cluster_up_runs_every_part_and_ctrl_c_stops_them_all(folder):
    """Redis, PostgreSQL, the gateway, the Bot API, serve x2, workers x2 and the scheduler run; SIGINT ends all."""
    out = folder / "up.out"
    with open(out, "wb") as sink:
        up = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", "cluster", "up", "--dir", str(folder),
                               "--subscribers", "50", *_ports()], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        _wait_for(out, "Ctrl-C stops it", up)
        parts = json.loads((folder / "cluster.json").read_text())["parts"]
        names = sorted(p["name"] for p in parts)
        assert names == ["gateway", "postgres", "redis", "scheduler", "serve-1", "serve-2", "telegram-api",
                         "worker-1", "worker-2"]
        assert _cli("status", "--dir", str(folder)).returncode == 0
        assert _cli("up", "--dir", str(folder)).returncode == 2  # one cluster per folder
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0
    finally:
        if up.poll() is None:
            up.kill()
            _cli("down", "--dir", str(folder))
    assert [p["name"] for p in parts if alive(p["pid"])] == []
    assert _cli("status", "--dir", str(folder)).returncode == 1


def test_cluster_down_stops_a_detached_cluster(folder):
    """`up --detach` returns with everything running; `down` stops every process it recorded."""
    started = _cli("up", "--detach", "--dir", str(folder), "--subscribers", "50", "--serve", "1", "--workers", "1",
                   "--no-telegram", *_ports())
    try:
        assert started.returncode == 0, started.stderr
        parts = json.loads((folder / "cluster.json").read_text())["parts"]
        assert len(parts) == 6 and all(alive(p["pid"]) for p in parts)
    finally:
        stopped = _cli("down", "--dir", str(folder))
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped", stopped
    assert [p["name"] for p in parts if alive(p["pid"])] == []


@pytest.mark.parametrize("bad", [["--serve", "0"], ["--workers", "-1"], ["--serve", "two"]])
def test_a_cluster_without_a_web_process_or_with_a_bad_count_is_refused_before_anything_starts(tmp_path, bad):
    done = subprocess.run([sys.executable, "-m", "bot.tools.cli", "cluster", "up", "--dir", str(tmp_path / "c"), *bad],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and f"argument {bad[0]}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "c").exists()
