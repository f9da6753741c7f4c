"""`shortcode admin whoami` and `shortcode care lookup|send`: the admin API from the terminal, through
`bot/tools/admin_client.py` (a campaign command is added the same way)."""
from __future__ import annotations

import argparse
from urllib.parse import quote

from bot.settings import Settings
from bot.tools.admin_client import AdminError, add_client_options, client, describe, new_key, run


def register(sub) -> None:
    s = sub.add_parser("admin", help="the admin API as an agent: whoami")
    asub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_client_options(asub.add_parser("whoami", help="the agent the token belongs to, and its role"))
    describe(asub)
    s.set_defaults(func=cmd_admin)
    s = sub.add_parser("care", help="one subscriber, as a care agent: look up, send a reminder or a message")
    csub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = csub.add_parser("lookup", help="masked number, tier, language, opt-out, zone history, recent messages")
    c.add_argument("number", help="with or without +86 ([service] region)")
    add_client_options(c)
    c = csub.add_parser("send", help="one reminder kind, a care text, or a launched campaign's offer")
    c.add_argument("number", help="with or without +86 ([service] region)")
    c.add_argument("--kind", help="a reminder kind of menus/reminders.toml")
    c.add_argument("--text-zh", dest="zh", help="a care text in Simplified Chinese (instead of --kind)")
    c.add_argument("--text-en", dest="en", help="a care text in English (instead of --kind); give both, the "
                                                "subscriber's language is used")
    c.add_argument("--campaign", type=int, help="a launched campaign's number: its message and offer (instead of "
                                                "--kind)")
    c.add_argument("--key", help="Idempotency-Key: repeat a send with the same key and it is sent once "
                                 "(default: a new one)")
    add_client_options(c)
    describe(csub)
    s.set_defaults(func=cmd_care)


def cmd_admin(args: argparse.Namespace, settings: Settings) -> int:
    return run("admin whoami", lambda: client(args, settings).call("GET", "/admin/whoami"))


def cmd_care(args: argparse.Namespace, settings: Settings) -> int:
    path = f"/admin/subscribers/{quote(args.number.strip(), safe='')}"
    if args.action == "lookup":
        return run("care lookup", lambda: client(args, settings).call("GET", path))
    return run("care send", lambda: _send(args, settings, path))


def _send(args: argparse.Namespace, settings: Settings, path: str):
    if [bool(args.kind), bool(args.zh or args.en), args.campaign is not None].count(True) != 1:
        raise AdminError("give --kind, --campaign, or --text-zh and/or --text-en")
    body = {"kind": args.kind} if args.kind else {"campaign": args.campaign} if args.campaign is not None else {
        "text": {k: v for k, v in (("zh_Hans", args.zh), ("en", args.en)) if v}}
    return client(args, settings).call("POST", path + "/messages", body, key=args.key or new_key())
