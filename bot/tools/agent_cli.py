"""`shortcode agent add|list|revoke|token|password`: the operator at the console manages care agents and their tokens
(as `Actor(<os user>, "admin", "cli")`; every change is in the audit log)."""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone

from bot.settings import Settings
from bot.tools.admin_client import describe
from jobs.audit import ROLES, Actor


def register(sub) -> None:
    """The `agent` group on the `shortcode` parser (one line in cli.py)."""
    s = sub.add_parser("agent", help="care agents of the admin API: add, list, revoke, issue a token")
    asub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = asub.add_parser("add", help="a new agent with a role; prints its token once")
    a.add_argument("name", help="1-64 characters of a-z, 0-9, '.', '_', '-'")
    a.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
    asub.add_parser("list", help="every agent: name, role, active or revoked (never a token)")
    a = asub.add_parser("revoke", help="revoke an agent and all its tokens")
    a.add_argument("name", help="the agent's name")
    a = asub.add_parser("token", help="a new token for an active agent (the old ones stay valid)")
    a.add_argument("name", help="the agent's name")
    a = asub.add_parser("password", help="set an agent's password for the web console (asked twice; or one line "
                                         "on stdin when it is not a terminal)")
    a.add_argument("name", help="the agent's name")
    describe(asub)
    s.set_defaults(func=cmd_agent)


def operator() -> Actor:
    try:
        name = getpass.getuser() or "operator"
    except (KeyError, OSError):  # no user name in this environment (a container without passwd entry)
        name = "operator"
    return Actor(name, "admin", "cli")


def _usage(settings: Settings, token: str) -> str:
    host = "127.0.0.1" if settings.http.host in ("0.0.0.0", "::") else settings.http.host
    return (f"token (shown once, keep it safe): {token}\n"
            f"use it: export SHORTCODE_TOKEN={token}; shortcode admin whoami\n"
            f"   or: curl -H 'Authorization: Bearer {token}' http://{host}:{settings.http.port}/admin/whoami")


def read_password() -> str:
    """Asked twice on a terminal (not echoed); one line from stdin otherwise (a script or a pipe)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_agent(args: argparse.Namespace, settings: Settings) -> int:
    from bot.admin import agents, passwords
    from bot.db import make_engine, upgrade

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    now, actor = datetime.now(timezone.utc), operator()
    try:
        if args.action == "add":
            token = agents.add(engine, actor, args.name, args.role, now)
            print(f"agent {args.name} added as {args.role}\n{_usage(settings, token)}")
        elif args.action == "token":
            token = agents.new_token(engine, actor, args.name, now)
            print(f"new token for {args.name}\n{_usage(settings, token)}")
        elif args.action == "password":
            passwords.set_password(engine, actor, args.name, read_password(), now)
            print(f"password set for {args.name}")
        elif args.action == "revoke":
            tokens = agents.revoke(engine, actor, args.name, now)
            print(f"agent {args.name} revoked ({tokens} token(s) revoked)")
        else:
            rows = agents.listing(engine)
            for r in rows:
                print(f"{r.name:<24} {r.role:<10} {'active' if r.revoked_at is None else 'revoked'}")
            print(f"{len(rows)} agent(s)")
    except ValueError as exc:  # an AgentError, or the two passwords typed differ
        print(f"shortcode agent {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0
