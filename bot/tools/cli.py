"""The `shortcode` command: serve, worker, gateway, telegram-api, sim, seed, lint, count and db upgrade."""
from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import sys

from bot import telemetry
from bot.settings import Settings, load_settings
from bot.tools import (admin_cli, agent_cli, boss_cli, campaign_cli, churn_cli, cluster_cli, erase_cli, metrics_cli,
                       remind_cli, scheduler_cli)
from bot.tools.telegram_cli import cmd_telegram


def _core(settings: Settings):
    from bot.wiring import build_core

    return build_core(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    telemetry.prepare(settings)  # before anything imports prometheus_client
    import structlog
    from aiohttp import web

    from bot import startup
    from bot.logs import configure
    from bot.tools.banner import banner, in_container
    from bot.web import make_app

    configure(settings.log.level, fmt=settings.log.format)
    host = args.host or settings.http.host
    port = args.port or settings.http.port
    try:
        settings, notes = startup.preflight(settings, host, reload=lambda: load_settings(args.config))
    except startup.Refused as exc:
        print(f"shortcode serve: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note, flush=True)
    key = (startup.demo(settings, host) and startup.generated_key(settings)) or "<your [ussd] secret>"
    print(banner(host, port, settings.redis.url, settings.database.url, key, in_container()), flush=True)
    loop = None
    if settings.http.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    structlog.get_logger().info("serve_starting", port=port, event_loop=type(loop).__module__ if loop else "asyncio")
    app = make_app(_core(settings))
    _tune_gc(settings.http.gc_young_threshold)
    web.run_app(app, host=host, port=port, print=None, loop=loop, reuse_port=args.reuse_port or None)
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
    from bot.tools import sim
    from bot.logs import configure
    from bot.msisdn import BadNumber, normalise

    # a transcript takes partners down on purpose: their failures are what it checks, not news
    configure("warning" if args.verbose or not args.script else "critical", stream=sys.stderr)
    if args.script and args.telegram:
        from bot.tools import tg_transcripts

        return asyncio.run(sim.replay_all(args.script, _core(settings), print if args.verbose else None,
                                          tg_transcripts.replay))
    if args.script:
        return asyncio.run(sim.replay_all(args.script, _core(settings), print if args.verbose else None))
    try:
        msisdn = normalise(args.msisdn, settings.service.region)
    except BadNumber as exc:
        print(f"--as {args.msisdn}: {exc}", file=sys.stderr)
        return 2
    if args.sms:
        return sim.sms_handset(settings, msisdn)
    if args.telegram:
        return sim.telegram_chat(_core(settings), msisdn)
    return sim.ussd_phone(_core(settings), msisdn)


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import make_engine, upgrade
    from bot.tools.seed import count_subscribers, seed_demo

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
    from bot.tools.lint import demo_services, lint, lint_reminders

    core = _core(settings)
    with demo_services() as services:
        found = lint(core.engines["ussd"], core.renderers, services)
    unfit, notes = lint_reminders(core.catalogs, core.reminders.kinds)
    found += unfit
    print(*notes, sep="\n", end="\n\n" if notes else "")
    for overflow in found:
        print(overflow, end="\n\n")
    print(f"{len(found)} screen(s) or reminder(s) unfit" if found else
          "every screen fits its channel in every locale, and every reminder its SMS")
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


def cmd_telegram_api(args: argparse.Namespace, settings: Settings) -> int:
    """The simulated Telegram Bot API on [telegram] api_url, accepting only [telegram] token."""
    from urllib.parse import urlparse

    from aiohttp import web

    from bot.logs import configure
    from integrations.telegram.simulator import Simulator, make_telegram_app

    url, token = urlparse(settings.telegram.api_url), settings.telegram.token
    if not token:
        print("shortcode telegram-api: [telegram] token is empty; set the token the simulated bot accepts with "
              "SHORTCODE_TELEGRAM_TOKEN (for example 123456:TEST); the bot must use the same", file=sys.stderr)
        return 2
    configure(settings.log.level, fmt=settings.log.format)
    host, port = url.hostname or "127.0.0.1", url.port or 8091
    print(f"simulated Telegram Bot API on {settings.telegram.api_url}<token>/<method>; "
          f"control API on http://{host}:{port}/control/", flush=True)
    web.run_app(make_telegram_app(Simulator(token), prefix=url.path or "/bot"), host=host, port=port, print=None)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """An RQ worker for the outbox and the other jobs, on the Redis server `serve` uses."""
    telemetry.prepare(settings)  # before anything imports prometheus_client
    import redis

    from bot.db import make_engine
    from bot.logs import configure
    from bot.startup import check_redis
    from bot.tools.banner import hide_password
    from bot.wiring import build_services, outbox_sender, telegram_sender
    from jobs import process
    from jobs.campaign_run import campaign_setup
    from jobs.worker import work_through_outages

    if settings.redis.url == "embedded":
        print("the embedded store lives inside `shortcode serve`, which runs its own worker; set [redis] url "
              "(SHORTCODE_REDIS_URL=redis://...) to run workers apart", file=sys.stderr)
        return 2
    configure(settings.log.level, fmt=settings.log.format)
    core = _core(settings)  # a bad menus or reminders file stops the worker here, with one line
    engine = make_engine(settings.database_url)
    process.use(engine, outbox_sender(settings, engine), telegram_sender(settings, engine), catalogs=core.catalogs,
                services=build_services(core, engine), reminders=core.reminders,
                    campaigns=campaign_setup(settings))
    connection = redis.Redis.from_url(settings.redis.url)
    print(f"worker on {hide_password(settings.redis.url)} queue {settings.jobs.queue}", flush=True)
    for note in check_redis(settings):  # what an evicting or diskless Redis may lose
        print(note, flush=True)
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
    p = argparse.ArgumentParser(prog="shortcode", description="Shortcode: service menus behind short codes. "
                                "Every setting can also be set by SHORTCODE_<SECTION>_<KEY>.",
                                formatter_class=Formatter)
    p.add_argument("--config", help=CONFIG_HELP)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("serve", help="run the web service with an in-process worker")
    s.add_argument("--host", help="address to listen on (default: [http] host, SHORTCODE_HTTP_HOST)")
    s.add_argument("--port", type=int, help="port to listen on (default: [http] port, SHORTCODE_HTTP_PORT)")
    s.add_argument("--reuse-port", action="store_true",
                   help="SO_REUSEPORT: several serve processes on one port, the kernel spreading connections")
    s.set_defaults(func=cmd_serve)
    s = sub.add_parser("sim", help="a terminal phone: dial codes and reply, text through the gateway, or replay "
                                   "transcripts")
    s.add_argument("--script", nargs="+", metavar="FILE",
                   help="replay transcripts (e.g. tests/transcripts/*.yaml), each on a scratch database and "
                        "clock of its own; one line each, exit 1 if any failed")
    s.add_argument("-v", "--verbose", action="store_true", help="with --script: print every screen and SMS")
    s.add_argument("--as", dest="msisdn", default="+8613800000001",
                   help="subscriber number, with or without +86 ([service] region)")
    by = s.add_mutually_exclusive_group()
    by.add_argument("--sms", action="store_true",
                    help="text the short code through the SMS gateway at [sms] gateway_url (`shortcode gateway` "
                         "and `shortcode serve` running) and show every message the handset receives")
    by.add_argument("--telegram", action="store_true",
                    help="a Telegram chat with the bot in this terminal (in process, no server): buttons shown as "
                         "[1] Golf  [0] Back, type a number to press; /as NUMBER links that subscriber. With "
                         "--script: replay the transcripts on the Telegram channel, numbers pressed as buttons")
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
    s.add_argument("text", help="the text; \\n stands for a line break")
    s.add_argument("--json", action="store_true", help='print {"encoding", "units", "segments"}')
    s.set_defaults(func=cmd_count)
    s = sub.add_parser("gateway", help="run the simulated SMS gateway on [sms] gateway_url")
    s.set_defaults(func=cmd_gateway)
    s = sub.add_parser("telegram-api", help="run the simulated Telegram Bot API on [telegram] api_url")
    s.set_defaults(func=cmd_telegram_api)
    s = sub.add_parser("telegram", help="the Telegram bot: poll for updates, or register the webhook")
    tgsub = s.add_subparsers(dest="action", required=True)
    tgsub.add_parser("poll", help="getUpdates into the inbox and answer (development)").set_defaults(func=cmd_telegram)
    w = tgsub.add_parser("set-webhook", help="setWebhook with [telegram] secret_token")
    w.add_argument("url", help="the public HTTPS URL of POST /telegram/webhook")
    w.set_defaults(func=cmd_telegram)
    tgsub.add_parser("set-commands", help="setMyCommands: the command menu in Chinese and English "
                     "(set-webhook does it too)").set_defaults(func=cmd_telegram)
    s = sub.add_parser("worker", help="an RQ worker for outbound SMS and jobs (needs a real Redis)")
    s.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    s.set_defaults(func=cmd_worker)
    remind_cli.register(sub)
    churn_cli.register(sub)
    agent_cli.register(sub)
    admin_cli.register(sub)
    campaign_cli.register(sub)
    erase_cli.register(sub)  # `subscriber erase`
    scheduler_cli.add_parser(sub)
    metrics_cli.register(sub, _finish)
    _finish(cluster_cli.register(sub))
    s = sub.add_parser("db", help="database schema")
    dbsub = s.add_subparsers(dest="action", required=True)
    dbsub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db)
    boss_cli.register(sub, _finish)
    _finish(sub)
    _finish(dbsub)
    _finish(tgsub)
    return p


CONFIG_HELP = "config file, before or after the command (default: SHORTCODE_CONFIG, else the project's config.toml)"


class Formatter(argparse.HelpFormatter):
    """Shows an option's default where it has a value and its help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return text + " (default: %(default)s)"


def _finish(sub) -> None:
    """Every command describes itself in --help, shows defaults, and takes --config after its name too."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    for name, command in sub.choices.items():
        command.formatter_class = Formatter
        command.description = command.description or helps.get(name)
        if not any("--config" in action.option_strings for action in command._actions):
            command.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)


BUSY_PORT = {"serve": "[http] port (SHORTCODE_HTTP_PORT) or --port",
             "gateway": "[sms] gateway_url (SHORTCODE_SMS_GATEWAY_URL)",
             "telegram-api": "[telegram] api_url (SHORTCODE_TELEGRAM_API_URL)"}


def _config_error(exc: Exception) -> str:
    """One line: pydantic explains a wrong value over several."""
    errors = exc.errors() if hasattr(exc, "errors") else None
    if errors:
        where = ".".join(str(part) for part in errors[0]["loc"])
        return f"config: [{where.replace('.', '] ', 1)}: {errors[0]['msg']}"
    return str(exc).splitlines()[0] if isinstance(exc, OSError) else f"config: {exc}"


def main(argv: list[str] | None = None) -> int:
    """Expected situations end with one line and an exit code, never a traceback."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except (OSError, ValueError) as exc:  # missing file, bad TOML, a value of the wrong type
        print(f"shortcode: {_config_error(exc)}", file=sys.stderr)
        return 2
    from jobs.reminder_kinds import KindError

    try:
        return args.func(args, settings)
    except KindError as exc:  # menus/reminders.toml is wrong: serve, worker, lint and remind stop here
        print(f"shortcode {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`shortcode campaign report 1 | head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or args.command not in BUSY_PORT:
            raise
        print(f"shortcode {args.command}: {exc.strerror or exc}; choose another with {BUSY_PORT[args.command]}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
