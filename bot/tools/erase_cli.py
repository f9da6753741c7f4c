"""`shortcode subscriber erase NUMBER [--yes]`: the operator erases a subscriber's personal data
(`bot/erasure.py`); asked to confirm on a terminal, `--yes` in a script. Prints the pseudonym their ledger and
bookings are kept under; the number itself is never printed."""
from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone

from bot.msisdn import BadNumber, mask, normalise
from bot.settings import Settings
from bot.tools.admin_client import describe


def register(sub) -> None:
    """The `subscriber` group on the `shortcode` parser (one line in cli.py)."""
    s = sub.add_parser("subscriber", help="a subscriber's personal data: erase")
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    e = ssub.add_parser("erase", help="remove the number, name, Telegram link, message bodies and sessions; keep "
                                      "the ledger and bookings under a pseudonym (audited)")
    e.add_argument("msisdn", help="the subscriber's number, with or without +86 ([service] region)")
    e.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    describe(ssub)
    s.set_defaults(func=cmd_subscriber)


def cmd_subscriber(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import make_engine, upgrade
    from bot.erasure import Unknown, erase
    from bot.tools.agent_cli import operator

    try:
        msisdn = normalise(args.msisdn, settings.service.region)
    except BadNumber as exc:
        return _refuse(str(exc))
    if not settings.erase.suppression_key:
        return _refuse("set [erase] suppression_key (SHORTCODE_ERASE_SUPPRESSION_KEY) first: an opt-out is kept "
                       "under its HMAC, and with an empty key anyone could trace it back to the number")
    if not args.yes and not _confirmed(msisdn):
        return _refuse("not confirmed: nothing erased")
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        done = erase(engine, msisdn, operator(), datetime.now(timezone.utc), settings.erase.suppression_key)
    except Unknown:
        return _refuse(f"{mask(msisdn)} is not a subscriber (never was, or already erased)")
    finally:
        engine.dispose()
    keys = asyncio.run(_sessions(settings, msisdn))
    print(f"erased {mask(msisdn)}: ledger and bookings kept as {done.pseudonym}; {done.rows} rows changed, "
          f"{keys} Redis keys deleted")
    return 0


def _confirmed(msisdn: str) -> bool:
    if not sys.stdin.isatty():
        return False  # a script must say --yes
    answer = input(f"erase {mask(msisdn)}'s personal data for good? type yes: ")
    return answer.strip().lower() == "yes"


async def _sessions(settings: Settings, msisdn: str) -> int:
    from bot.erasure import erase_sessions
    from bot.redisconn import connect

    if settings.redis.url == "embedded":
        return 0  # the embedded store lives in `serve`'s own process: its sessions end with their TTL
    pair = connect(settings.redis.url)
    try:
        return await erase_sessions(pair.aio, msisdn)
    finally:
        await pair.close()


def _refuse(reason: str) -> int:
    print(f"shortcode subscriber erase: {reason}", file=sys.stderr)
    return 2
