"""Where this process's metrics go: prometheus_client reads PROMETHEUS_MULTIPROC_DIR once, when it is first
imported, so `serve`, `worker` and `scheduler` call `prepare` before anything imports it. Every process of a
host then writes its counters to files in one folder, and any `serve` adds them up at /metrics."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from bot.settings import Settings

ENV = "PROMETHEUS_MULTIPROC_DIR"


def folder(settings: Settings) -> Path | None:
    """`[metrics] dir` resolved against the config file's folder; None when each process counts alone."""
    return settings.path(Path(settings.metrics.dir)) if settings.metrics.dir else None


def prepare(settings: Settings) -> Path | None:
    """Point prometheus_client at the shared folder (made if missing, never emptied: a restarted process must
    not take the others' counts with it). Too late once prometheus_client is imported: that is a bug here."""
    path = folder(settings)
    if path is None:
        os.environ.pop(ENV, None)
        return None
    if "prometheus_client" in sys.modules and os.environ.get(ENV) != str(path):
        raise RuntimeError("prometheus_client was imported before the metrics folder was set")
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    return path


def multiprocess() -> bool:
    """Whether this process writes to (and /metrics reads from) the shared folder."""
    return bool(os.environ.get(ENV))


def wipe(settings: Settings) -> Path | None:
    """Empty the folder before a fresh cluster starts (`shortcode metrics wipe`): the counters of processes
    that are gone would otherwise be added to the new ones. Not for a running cluster."""
    path = folder(settings)
    if path is None:
        return None
    if path.exists():
        for entry in path.glob("*.db"):
            entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path
