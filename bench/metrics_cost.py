"""What the metrics add to one turn: the counter increment and histogram observation `Dispatcher.reply` makes,
in prometheus_client's multiprocess mode (a file in a shared folder) and in one process alone.

    .venv/bin/python bench/metrics_cost.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TURNS = 200_000


def per_turn() -> float:
    """Seconds per turn's metrics, best of five runs (prometheus_client picks its mode at import)."""
    import time

    from jobs.metrics import TURN_SECONDS, TURNS as COUNTER

    counter, seconds = COUNTER.labels("ussd", "continued"), TURN_SECONDS.labels("ussd")

    def turn() -> None:
        started = time.perf_counter()
        counter.inc()
        seconds.observe(time.perf_counter() - started)

    return min(timeit.repeat(turn, number=TURNS, repeat=5)) / TURNS


def main() -> None:
    if len(sys.argv) > 1:
        print(f"{per_turn() * 1e6:.2f}")
        return
    with tempfile.TemporaryDirectory() as folder:
        for mode, env in (("multiprocess", {"PROMETHEUS_MULTIPROC_DIR": folder}), ("one process", {})):
            run = subprocess.run([sys.executable, __file__, "child"], env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                 capture_output=True, text=True, check=True)
            print(f"{mode:12}: {run.stdout.strip()} µs a turn (an increment, an observation, two clock reads)")


if __name__ == "__main__":
    main()
