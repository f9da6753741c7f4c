"""The shared metrics folder names each process by host and pid, so containers that share one volume (all
of them pid 1, 7, ...) never write the same file, and /metrics adds every host's counts."""
from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.processes import ROOT

RECORD = """
import socket, sys
socket.gethostname = lambda: sys.argv[1]
from jobs.metrics import OPT_OUTS
OPT_OUTS.labels("sms", "opted_out").inc()
"""


def test_two_hosts_with_one_folder_keep_apart_files_and_their_sum(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    for host in ("serve-a", "serve-b"):
        subprocess.run([sys.executable, "-c", RECORD, host], env=env, cwd=ROOT, check=True)
    names = sorted(path.name for path in tmp_path.glob("*.db"))
    assert [n.split("_")[-1].rsplit("-", 1)[0] for n in names] == ["serve-a", "serve-b"], names
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("shortcode_opt_outs_total", {"channel": "sms", "change": "opted_out"}) == 2
