"""`shortcode metrics wipe`: empty the metrics folder before a fresh cluster starts (never under a running one)."""
from __future__ import annotations

import argparse

from bot import telemetry
from bot.settings import Settings


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    path = telemetry.wipe(settings)
    print(f"metrics folder {path} emptied" if path else "[metrics] dir is empty: each process counts alone")
    return 0


def register(sub, finish) -> None:
    """The `metrics` command, registered by `bot/tools/cli.py`."""
    s = sub.add_parser("metrics", help="the Prometheus metrics' shared folder ([metrics] dir)")
    action = s.add_subparsers(dest="action", required=True)
    action.add_parser("wipe", help="delete every process's counters: run it before a fresh cluster starts, "
                                   "never while one runs").set_defaults(func=cmd_metrics)
    finish(action)
