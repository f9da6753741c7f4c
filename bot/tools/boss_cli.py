"""`shortcode boss roam NUMBER COUNTRY | balance NUMBER YUAN`: a tester's injections into the simulated BOSS,
what the reminders then read: a registration abroad on the roaming feed, a prepaid balance (which may cross
the low-balance threshold). Bad input is one line and exit 2."""
from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from typing import Callable

from bot.settings import Settings

MOST_FEN = 100_000_000  # ¥1,000,000: more than any prepaid balance, less than a typo's worth of zeros


def register(sub, finish: Callable) -> None:
    """Add `boss` to the `shortcode` subcommands (`finish` gives its actions --config and their defaults)."""
    s = sub.add_parser("boss", help="the simulated BOSS, for testers: register a number abroad (the roaming "
                                    "feed) or set its prepaid balance")
    actions = s.add_subparsers(dest="action", required=True)
    roam = actions.add_parser("roam", help="the number registers on a network abroad: one event on the roaming feed")
    roam.add_argument("number", help="a subscriber's number, with or without +86 ([service] region)")
    roam.add_argument("country", help="where: an ISO 3166 alpha-2 code such as JP, KR, US, HK")
    roam.set_defaults(func=cmd_boss)
    balance = actions.add_parser("balance", help="set the number's prepaid balance (usage or a top-up); falling "
                                                 "below the low-balance threshold is a crossing")
    balance.add_argument("number", help="a subscriber's number, with or without +86 ([service] region)")
    balance.add_argument("yuan", help="the new balance in yuan, e.g. 8.50")
    balance.set_defaults(func=cmd_boss)
    finish(actions)


def cmd_boss(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import make_engine, schema_behind
    from bot.msisdn import BadNumber, mask, normalise
    from integrations.boss import UnknownAccount
    from integrations.boss.simulated import SimulatedBoss
    from integrations.sqltx import utcnow

    try:
        msisdn = normalise(args.number, settings.service.region)
        fen = to_fen(args.yuan) if args.action == "balance" else 0
    except BadNumber as exc:
        return _refused(args, f"{args.number}: {exc}")
    except ValueError as exc:
        return _refused(args, str(exc))
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            if behind := schema_behind(conn):
                return _refused(args, f"{behind}: run `shortcode db upgrade`")
        boss = SimulatedBoss(engine)
        if args.action == "roam":
            print(_roamed(boss, msisdn, boss.record_roaming(msisdn, args.country, utcnow()), args.country))
        else:
            boss.set_balance(msisdn, fen, utcnow())
            print(f"{mask(msisdn)}: prepaid balance set to ¥{fen / 100:,.2f}")
    except UnknownAccount:
        return _refused(args, f"{mask(msisdn)} has no account in the simulated BOSS (seed it: shortcode seed --demo)")
    except ValueError as exc:
        return _refused(args, str(exc))
    finally:
        engine.dispose()
    return 0


def to_fen(yuan: str) -> int:
    """Yuan as written ("8.5", "¥8.50") in fen. Refused: no number, a negative one, more than two decimals, an absurd one."""
    try:
        amount = Decimal(yuan.strip().lstrip("¥"))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise ValueError(f"not an amount in yuan: {yuan!r} (e.g. 8.50)")
    if amount < 0:
        raise ValueError(f"a balance cannot be negative: {yuan}")
    if amount != amount.quantize(Decimal("0.01")) or amount * 100 > MOST_FEN:
        raise ValueError(f"not a balance in yuan (two decimals, at most ¥{MOST_FEN // 100:,}): {yuan}")
    return int(amount * 100)


def _roamed(boss, msisdn: str, event: int, country: str) -> str:
    from bot.msisdn import mask

    tariff = boss.roaming_tariff(country)
    price = (f"tariff ¥{tariff.day_fen / 100:,.2f} a day for {tariff.data_mb:,} MB" if tariff
             else "no roaming tariff for it")
    return f"roaming event {event}: {mask(msisdn)} registered in {country.strip().upper()}; {price}"


def _refused(args: argparse.Namespace, reason: str) -> int:
    print(f"shortcode boss {args.action}: {reason}", file=sys.stderr)
    return 2
