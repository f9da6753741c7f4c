"""The `shortcode` command: serve, worker, gateway, sim, seed, lint, count and db upgrade."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.settings import Settings, load_settings


def _core(settings: Settings):
    from bot.wiring import build_core

    return build_core(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import structlog
    from aiohttp import web

    from bot import startup
    from bot.logs import configure
    from bot.web import make_app

    configure(settings.log.level)
    host = args.host or settings.http.host
    port = args.port or settings.http.port
    try:
        settings, notes = startup.preflight(settings, host, reload=lambda: load_settings(args.config))
    except startup.Refused as exc:
        print(f"shortcode serve: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note, flush=True)
    key = startup.generated_key(settings) or "<your [ussd] secret>"
    print(f"Shortcode on http://{host}:{port}  (Redis: {settings.redis.url}, database: {settings.database.url})\n"
          f"Try it:\n  curl -d sessionId=s1 -d 'serviceCode=*126#' -d phoneNumber=+8613800000001 "
          f"-d networkCode=46000 -d text= 'http://{host}:{port}/ussd/africastalking?key={key}'\n"
          f"or, in another terminal: .venv/bin/shortcode sim", flush=True)
    loop = None
    if settings.http.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    structlog.get_logger().info("serve_starting", port=port, event_loop=type(loop).__module__ if loop else "asyncio")
    app = make_app(_core(settings))
    _tune_gc(settings.http.gc_young_threshold)
    web.run_app(app, host=host, port=port, print=None, loop=loop)
    return 0


def _tune_gc(young: int) -> None:
    """What is loaded at start (catalogs, flows, menus, tables) lives as long as the process: frozen out of
    every collection. A hop allocates thousands of short-lived objects; with Python's default threshold
    (700) the collections that follow were the slowest hops: p99 at 64 connections fell from ~80 to ~31
    ms with both (docs/benchmarks.md). 0 keeps Python's threshold."""
    import gc

    gc.collect()
    gc.freeze()
    if young > 0:
        gc.set_threshold(young, *gc.get_threshold()[1:])


def cmd_sim(args: argparse.Namespace, settings: Settings) -> int:
    from bot import transcripts
    from bot.channels.console import Console, repl
    from bot.local import local_dispatcher
    from bot.logs import configure

    configure("warning", stream=sys.stderr)
    core = _core(settings)

    async def main() -> int:
        if args.sms:
            from bot.channels.console import _read
            from bot.channels.sms_console import sms_repl

            await sms_repl(settings.sms.gateway_url, args.msisdn, settings.sms.short_code, settings.service.region,
                           _read)
            return 0
        if args.script:
            data = transcripts.load(Path(args.script))
            clock = transcripts.clock_for(data)
            async with local_dispatcher(core, clock, settings.redis.url) as dispatcher:
                miss = await transcripts.run(Path(args.script), dispatcher, clock, echo=print)
            if miss:
                print(miss.report(), file=sys.stderr)
                return 1
            print(f"{args.script}: every expectation held")
            return 0
        async with local_dispatcher(core, redis_url=settings.redis.url) as dispatcher:
            budgets = (settings.ussd.gsm7_budget, settings.ussd.ucs2_budget)
            await repl(Console(dispatcher, args.msisdn, budgets, settings.service.region))
        return 0

    return asyncio.run(main())


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import make_engine, upgrade
    from bot.seed import count_subscribers, seed_demo

    if not args.demo:
        print("nothing to do: pass --demo", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    present = count_subscribers(engine)
    if present and not (args.if_empty or args.reset):
        print(f"the database already has {present:,} subscribers: left as they are. Pass --reset to delete all "
              "subscribers, accounts, points and partner data and seed the demo instead", file=sys.stderr)
        return 2
    rows, seconds = seed_demo(engine, args.subscribers, if_empty=args.if_empty)
    if rows:
        print(f"seeded {rows:,} demo subscribers in {seconds:.1f} s (first: +8613800000001)")
    else:
        print("subscribers already present: left as they are")
    return 0


def cmd_lint(args: argparse.Namespace, settings: Settings) -> int:
    from bot.lint import demo_services, lint

    core = _core(settings)
    with demo_services() as services:
        found = lint(core.engine, core.renderers, services)
    for overflow in found:
        print(overflow, end="\n\n")
    print(f"{len(found)} screen(s) over budget" if found else "every screen fits its channel in every locale")
    return 1 if found else 0


def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
    from urllib.parse import urlparse

    from aiohttp import web

    from integrations.smsgateway.simulator import Gateway, make_gateway_app

    from bot import startup

    settings, notes = startup.with_demo_secrets(settings, settings.http.host, lambda: load_settings(args.config))
    for note in notes:
        print(note, flush=True)
    s, url = settings.sms, urlparse(settings.sms.gateway_url)
    ours = f"http://{settings.http.host}:{settings.http.port}"
    gateway = Gateway(s.username, s.api_key, callback_url=f"{ours}/sms/dlr", inbound_url=f"{ours}/sms/inbound",
                      secret=s.secrets.split(",")[0].strip())
    print(f"simulated SMS gateway on {settings.sms.gateway_url}; reports to {ours}/sms/dlr", flush=True)
    web.run_app(make_gateway_app(gateway), host=url.hostname or "127.0.0.1", port=url.port or 8090, print=None)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """An RQ worker for the outbox and the other jobs, on the Redis server `serve` uses."""
    import redis

    from bot.db import make_engine
    from bot.logs import configure
    from bot.wiring import outbox_sender
    from jobs import process
    from jobs.worker import work_through_outages

    if settings.redis.url == "embedded":
        print("the embedded store lives inside `shortcode serve`, which runs its own worker; set [redis] url "
              "(SHORTCODE_REDIS_URL=redis://...) to run workers apart", file=sys.stderr)
        return 2
    configure(settings.log.level)
    engine = make_engine(settings.database_url)
    process.use(engine, outbox_sender(settings, engine))
    connection = redis.Redis.from_url(settings.redis.url)
    print(f"worker on {settings.redis.url} queue {settings.jobs.queue}", flush=True)
    # an RQ SimpleWorker runs jobs in this process: no fork per job (~ms each) and no database connections
    # shared across a fork; a job that crashes the process is found by the re-scan. A Redis outage
    # does not end it: it backs off and carries on when Redis is back.
    work_through_outages(connection, settings.jobs.queue, burst=args.burst)
    return 0


def cmd_count(args: argparse.Namespace, settings: Settings) -> int:
    from integrations.gsm import count

    result = count(args.text.replace("\\n", "\n"))
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"{result.encoding}, {result.units} units, {result.segments} SMS segment(s)")
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import upgrade

    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shortcode", description="Shortcode: service menus behind short codes.")
    p.add_argument("--config", help="config file (default: SHORTCODE_CONFIG or the project's config.toml)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the web service with an in-process worker")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)
    s = sub.add_parser("sim", help="a terminal phone: dial codes and reply, or replay a transcript")
    s.add_argument("--script", help="replay tests/transcripts/NAME.yaml; exit 1 on the first mismatch")
    s.add_argument("--as", dest="msisdn", default="+8613800000001", help="subscriber number")
    s.add_argument("--sms", action="store_true",
                   help="text the short code through the SMS gateway (`shortcode gateway` and `serve` running)")
    s.set_defaults(func=cmd_sim)
    s = sub.add_parser("seed", help="create deterministic demo data")
    s.add_argument("--demo", action="store_true", help="demo subscribers from +8613800000001")
    s.add_argument("--subscribers", type=int, default=1000, help="how many (default 1,000)")
    keep = s.add_mutually_exclusive_group()
    keep.add_argument("--if-empty", action="store_true", help="do nothing when subscribers exist")
    keep.add_argument("--reset", action="store_true",
                      help="delete existing subscribers, accounts, points and partner data first")
    s.set_defaults(func=cmd_seed)
    s = sub.add_parser("lint", help="render every screen in every locale; fail on overflow")
    s.set_defaults(func=cmd_lint)
    s = sub.add_parser("count", help="encoding, length and SMS segments of a text")
    s.add_argument("text")
    s.add_argument("--json", action="store_true", help='print {"encoding", "units", "segments"}')
    s.set_defaults(func=cmd_count)
    s = sub.add_parser("gateway", help="run the simulated SMS gateway on [sms] gateway_url")
    s.set_defaults(func=cmd_gateway)
    s = sub.add_parser("worker", help="an RQ worker for outbound SMS and jobs (needs a real Redis)")
    s.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    s.set_defaults(func=cmd_worker)
    s = sub.add_parser("db", help="database schema")
    dbsub = s.add_subparsers(dest="action", required=True)
    dbsub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings(args.config)
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
