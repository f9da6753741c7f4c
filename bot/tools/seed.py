"""Deterministic demo data: subscribers numbered from +8613800000001, bulk-inserted, with what the care
reminders read (bills, balance history, birthdays, packages ending soon, roaming tariffs) around the day of
seeding, and six months of usage with the churn label (what the value-loss model reads). `seed_demo` is the
bulk path: a million subscribers in well under a minute on SQLite without the care data; the usage history adds
six rows a subscriber (generating them ~50 µs a subscriber; 100,000 seeded with it: 28.6 s on the loaded machine)."""
from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.models import Subscriber
from flows.packages import PACKAGES
from integrations.golf import simulated as golf
from integrations.hospital import simulated as hospital
from integrations.boss.usage_demo import COLUMNS as USAGE_COLUMNS, history, month_of
from integrations.police import simulated as police

PARTNERS = (golf.seed_demo, hospital.seed_demo, police.seed_demo)  # each partner's own deterministic demo data
FIRST = 8613800000001
SEED = 12580
BATCH = 50_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂"
ENGLISH = ["Alex", "Chris", "Jamie", "Morgan", "Sam", "Taylor", "Jordan", "Casey", "Robin", "Lee"]
TIERS = (("regular", 60), ("silver", 25), ("gold", 12), ("diamond", 3))
OPENED = datetime(2025, 12, 1, tzinfo=timezone.utc)  # start of the points cycle

# The first demo number: a gold-tier, Chinese-speaking subscriber with something in every product.
SHOWCASE = ("+8613800000001", "张伟", "gold", "zh_Hans", "Asia/Shanghai")
SHOWCASE_ACCOUNT = (12_800, 5_630, 18_850)  # points, balance (fen), bill (fen)
SHOWCASE_BILLS = (16_820, 21_360)  # the latest bill (unpaid), the one before (paid)

TABLES = {
    "subscriber": ("msisdn", "name", "tier", "language", "timezone"),
    "boss_account": ("msisdn", "points", "balance_fen", "bill_fen", "birthday"),
    "points_entry": ("msisdn", "delta", "kind", "ref", "idem_key", "created_at"),
    "boss_bill": ("msisdn", "period", "amount_fen", "paid_fen", "issued_on", "due_on"),
    "boss_balance_log": ("msisdn", "balance_fen", "at"),
    "boss_subscription": ("msisdn", "package", "price_fen", "points", "pay", "status", "until", "idem_key",
                          "created_at"),
    "boss_usage": USAGE_COLUMNS,
    "boss_usage_label": ("msisdn", "month", "lost"),
}
ALSO_EMPTIED = ("boss_roaming_event", "boss_roaming_tariff")  # the feed starts empty; tariffs are re-inserted
COLUMNS = {**TABLES, "boss_roaming_tariff": ("country", "day_fen", "data_mb")}

# The care data: bills issued on the 1st and due on the 15th; balances under LOW_FEN fell there in the last two
# days (a low-balance crossing); one subscriber in 25 has a package ending within 30 days; one in 12 gave
# no birthday; the second demo number was born on Feb 29.
CARE_SEED = SEED + 1
ZONE = ZoneInfo("Asia/Shanghai")
LOW_FEN = 2_000
LEAP_BORN = date(1996, 2, 29)
SHOWCASE_BORN = date(1985, 3, 12)
ROAMING_TARIFFS = (("JP", 2_500, 1_024), ("KR", 2_500, 1_024), ("US", 3_000, 1_024), ("GB", 3_000, 1_024),
                   ("FR", 3_000, 1_024), ("DE", 3_000, 1_024), ("TH", 2_000, 1_024), ("SG", 2_000, 1_024),
                   ("AU", 3_000, 1_024), ("HK", 1_500, 2_048), ("MO", 1_500, 2_048), ("TW", 1_800, 2_048))


def demo_rows(n: int, seed: int = SEED) -> Iterator[tuple[tuple, tuple]]:
    """N (subscriber, account) pairs; the same N and seed always give the same rows."""
    rng = random.Random(seed)
    tiers = [t for t, _ in TIERS]
    weights = [w for _, w in TIERS]
    if n >= 1:
        yield SHOWCASE, SHOWCASE_ACCOUNT
    for i in range(1, n):
        english = rng.random() < 0.15
        name = rng.choice(ENGLISH) if english else rng.choice(SURNAMES) + rng.choice(GIVEN)
        tier = rng.choices(tiers, weights)[0]
        yield ((f"+{FIRST + i}", name, tier, "en" if english else "zh_Hans", "Asia/Shanghai"),
               (rng.randrange(0, 60_000), rng.randrange(0, 50_000), rng.randrange(0, 60_000)))


def count_subscribers(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Subscriber)).scalar_one()


def _sql(engine: Engine, table: str) -> str:
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    columns = COLUMNS[table]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


class Cycle:
    """The demo's dates around `now` (Shanghai): the latest bill, issued on the 1st of this month for last
    month and due on the 15th, unpaid by 60% of subscribers before its due date and by 8% after."""

    def __init__(self, now: datetime) -> None:
        self.now, self.today = now, now.astimezone(ZONE).date()
        self.issued = self.today.replace(day=1)
        self.latest = _bill_dates(self.issued)
        self.before = _bill_dates(_month_before(self.issued))
        self.unpaid = 0.6 if self.today <= self.latest[2] else 0.08


def care_rows(batches: dict[str, list], i: int, subscriber: tuple, account: tuple, cycle: Cycle,
              rng: random.Random) -> None:
    """What the care reminders read for the i-th demo subscriber: the latest bill, the balance's history
    (a recent fall for a low one) and, for one in 25, a package ending within 30 days."""
    msisdn, balance = subscriber[0], account[1]
    if i == 0:
        batches["boss_bill"] += [(msisdn, *cycle.latest[:1], SHOWCASE_BILLS[0], 0, *cycle.latest[1:]),
                                 (msisdn, *cycle.before[:1], SHOWCASE_BILLS[1], SHOWCASE_BILLS[1], *cycle.before[1:])]
    else:
        amount = 2_000 + int(rng.random() * 38_000)
        paid = 0 if rng.random() < cycle.unpaid else amount
        batches["boss_bill"].append((msisdn, cycle.latest[0], amount, paid, *cycle.latest[1:]))
    if balance < LOW_FEN:
        fell = cycle.now - timedelta(minutes=10 + int(rng.random() * 48 * 60))
        batches["boss_balance_log"] += [(msisdn, balance + 3_000, OPENED), (msisdn, balance, fell)]
    else:
        batches["boss_balance_log"].append((msisdn, balance, OPENED))
    if i % 25 == 5:
        until = cycle.today + timedelta(days=1 + i // 25 % 30)
        batches["boss_subscription"].append(_ending(msisdn, subscriber[2], until, i // 25))


BORN = (date(1955, 1, 1).toordinal(), date(2005, 12, 31).toordinal())
NO_BIRTHDAY = 1 / 12


def birthday(i: int, rng: random.Random) -> date | None:
    if i < 2:
        return (SHOWCASE_BORN, LEAP_BORN)[i]
    r = rng.random()
    return None if r < NO_BIRTHDAY else date.fromordinal(BORN[0] + int((r - NO_BIRTHDAY) / (1 - NO_BIRTHDAY)
                                                                        * (BORN[1] - BORN[0])))


def _bill_dates(issued: date) -> tuple[str, date, date]:
    """(period, issued on, due on) of the bill issued on the 1st `issued`: it covers the month before."""
    return _month_before(issued).strftime("%Y-%m"), issued, issued.replace(day=15)


def _month_before(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def _ending(msisdn: str, tier: str, until: date, k: int) -> tuple:
    """An active subscription to one of the packages the tier may buy, paid on the bill, ending `until`."""
    choices = [p for p in PACKAGES.values() if p.price(tier) is not None]
    package = choices[k % len(choices)]
    created = until - timedelta(days=30 if package.monthly else 365)
    return (msisdn, package.key, package.price(tier), 0, "bill", "active", until, f"demo:{msisdn}:{package.key}",
            datetime(created.year, created.month, created.day, 2, tzinfo=timezone.utc))


def seed_demo(engine: Engine, n: int = 1000, if_empty: bool = False, care: bool = True,
              now: datetime | None = None) -> tuple[int, float]:
    """Replace the subscribers with N demo ones (or keep them with if_empty). Returns (rows, seconds).

    Each account's points arrive as one opening ledger entry, so balance = sum of entries from the start.
    `care` adds what the reminders read, dated around `now` (the clock by default); without it the BOSS has
    accounts only (tests that write their own bills and balances).
    """
    started = time.perf_counter()
    if if_empty and count_subscribers(engine):
        return 0, 0.0
    now = now or datetime.now(timezone.utc)
    sql = {table: _sql(engine, table) for table in TABLES}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("BEGIN")  # one transaction: the driver opens none itself (see integrations/sqltx.py)
        for table in (*ALSO_EMPTIED, *reversed(TABLES)):
            cur.execute(f"DELETE FROM {table}")
        batches: dict[str, list[tuple]] = {table: [] for table in TABLES}
        rng, cycle = random.Random(CARE_SEED), Cycle(now)
        usage = history(((s[0], s[2]) for s, _ in demo_rows(n)), month_of(cycle.today)) if care else None
        for i, (subscriber, account) in enumerate(demo_rows(n)):
            msisdn = subscriber[0]
            batches["subscriber"].append(subscriber)
            batches["boss_account"].append((msisdn, *account, birthday(i, rng) if care else None))
            if account[0]:
                batches["points_entry"].append((msisdn, account[0], "opening", "", f"opening:{msisdn}", OPENED))
            if care:
                care_rows(batches, i, subscriber, account, cycle, rng)
                planted = next(usage)  # six months of usage and the label (integrations/boss/usage_demo.py)
                batches["boss_usage"] += planted.usage
                batches["boss_usage_label"].append(planted.label)
            if len(batches["subscriber"]) == BATCH:
                _flush(cur, sql, batches)
        _flush(cur, sql, batches)
        if care:
            cur.executemany(_sql(engine, "boss_roaming_tariff"), ROAMING_TARIFFS)
        raw.commit()
    finally:
        raw.close()
    for partner in PARTNERS:
        partner(engine)
    return n, time.perf_counter() - started


def _flush(cur, sql: dict[str, str], batches: dict[str, list[tuple]]) -> None:
    for table, rows in batches.items():
        if rows:
            cur.executemany(sql[table], rows)
            rows.clear()
