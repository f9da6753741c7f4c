"""`shortcode cluster up|down|status`: the compose topology as local processes (bot/tools/cluster.py) under
var/cluster/, in the foreground until Ctrl-C, or detached until `down`."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path

from bot.settings import Settings
from bot.tools.cluster import Cluster, Part, Ports, Topology, alive, default_base, loaded, stop_pids


def cmd_cluster(args: argparse.Namespace, settings: Settings) -> int:
    return {"up": _up, "down": _down, "status": _status}[args.action](args)


def _up(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    if (record := loaded(base)) and _running(record):
        print(f"a cluster is already up in {base}: `shortcode cluster down` first", file=sys.stderr)
        return 2
    ports = Ports(**{f.name: getattr(args, f"{f.name}_port") for f in fields(Ports)})
    topology = Topology(serve=args.serve, workers=args.workers, telegram=not args.no_telegram,
                        subscribers=args.subscribers, shared_port=args.shared_port)
    cluster = Cluster(base, ports)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        cluster.start_stores()
        cluster.start_apps(topology)
    except (RuntimeError, TimeoutError, OSError) as exc:
        cluster.save()
        cluster.stop()
        print(f"shortcode cluster up: {exc}", file=sys.stderr)
        return 1
    cluster.save()
    _print(cluster, args.detach)
    if args.detach:
        return 0
    stop.wait()
    print("stopping the cluster...", flush=True)
    cluster.stop()
    cluster.save()
    print("stopped", flush=True)
    return 0


def _print(cluster: Cluster, detached: bool) -> None:
    print(f"Shortcode cluster in {cluster.base} (logs in {cluster.logs})")
    for part in cluster.parts:
        print(f"  {part.name:13} pid {part.pid:<7} {part.url or '-':50} {Path(part.log).name}")
    key = cluster.secrets["SHORTCODE_USSD_SECRET"]
    print(f"Try it:\n  curl -d sessionId=s1 -d 'serviceCode=*126#' -d phoneNumber=+8613800000001 -d networkCode=46000 "
          f"-d text= '{cluster.web(0)}/ussd/africastalking?key={key}'")
    print("`shortcode cluster down` stops it" if detached else "Ctrl-C stops it", flush=True)


def _running(record: dict) -> list[dict]:
    return [p for p in record["parts"] if alive(p["pid"]) and _ours(p)]


def _ours(part: dict) -> bool:
    """The PID still runs what we started (a PID reused since by something else is left alone)."""
    try:
        cmdline = Path(f"/proc/{part['pid']}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return any(word in cmdline for word in ("bot.tools.cli", "redis-server", "postgres"))


def _down(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    record = loaded(base)
    if not record:
        print(f"no cluster was started in {base}", file=sys.stderr)
        return 1
    cluster = Cluster(base, Ports(**record["ports"]))
    cluster.parts = [Part(**p) for p in _running(record)]
    cluster.stop()
    cluster.save()
    left = _running(record)
    print("stopped" if not left else f"still running: {', '.join(p['name'] for p in left)}")
    return 1 if left else 0


def _status(args: argparse.Namespace) -> int:
    record = loaded(Path(args.dir))
    if not record:
        print(f"no cluster was started in {args.dir}")
        return 1
    running = {p["name"] for p in _running(record)}
    if not record["parts"]:
        print(f"the cluster in {args.dir} is stopped")
    for part in record["parts"]:
        print(f"  {part['name']:13} pid {part['pid']:<7} {'up  ' if part['name'] in running else 'down'} "
              f"{part['url'] or '-'}")
    return 0 if running and len(running) == len(record["parts"]) else 1


def at_least(least: int):
    """An argparse type: a whole number no smaller than `least` (a cluster without a web process serves no one)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be {least} or more, not {value}")
        return value
    return parse


def register(sub) -> None:
    """The `cluster` command, registered by `bot/tools/cli.py`."""
    s = sub.add_parser("cluster", help="the compose topology as local processes: real redis-server and PostgreSQL, "
                                       "serve x2, workers x2, the scheduler, the simulated gateway and Bot API")
    actions = s.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start it (data, logs and secrets under --dir) and wait for Ctrl-C")
    up.add_argument("--detach", action="store_true", help="return once everything is up; `down` stops it")
    up.add_argument("--serve", type=at_least(1), default=Topology.serve, help="web processes (1 or more)")
    up.add_argument("--workers", type=at_least(0), default=Topology.workers, help="RQ workers (0: none)")
    up.add_argument("--subscribers", type=at_least(1), default=Topology.subscribers,
                    help="demo subscribers seeded if empty")
    up.add_argument("--shared-port", action="store_true",
                    help="every serve on --serve-port with SO_REUSEPORT (the kernel spreads connections: a "
                         "round-robin front without one)")
    up.add_argument("--no-telegram", action="store_true", help="without the simulated Bot API and Telegram channel")
    for f in fields(Ports):
        up.add_argument(f"--{f.name}-port", type=int, default=f.default,
                        help="first serve's port (the next ones follow)" if f.name == "serve" else f"{f.name}'s port")
    for name, helps in (("up", None), ("down", "stop every process the last `up` started"),
                        ("status", "which processes of the last `up` are running (exit 1 unless all)")):
        action = up if name == "up" else actions.add_parser(name, help=helps)
        action.add_argument("--dir", default=str(default_base()), help="the cluster's folder")
        action.set_defaults(func=cmd_cluster)
    return actions
