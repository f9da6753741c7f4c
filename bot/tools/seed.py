"""Deterministic demo data: subscribers numbered from +8613800000001, bulk-inserted."""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.models import Subscriber
from integrations.golf import simulated as golf
from integrations.hospital import simulated as hospital
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

TABLES = {
    "subscriber": ("msisdn", "name", "tier", "language", "timezone"),
    "boss_account": ("msisdn", "points", "balance_fen", "bill_fen"),
    "points_entry": ("msisdn", "delta", "kind", "ref", "idem_key", "created_at"),
}


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
    columns = TABLES[table]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


def seed_demo(engine: Engine, n: int = 1000, if_empty: bool = False) -> tuple[int, float]:
    """Replace the subscribers with N demo ones (or keep them with if_empty). Returns (rows, seconds).

    Each account's points arrive as one opening ledger entry, so balance = sum of entries from the start.
    """
    started = time.perf_counter()
    if if_empty and count_subscribers(engine):
        return 0, 0.0
    sql = {table: _sql(engine, table) for table in TABLES}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("BEGIN")  # one transaction: the driver opens none itself (see integrations/sqltx.py)
        for table in reversed(TABLES):
            cur.execute(f"DELETE FROM {table}")
        batches: dict[str, list[tuple]] = {table: [] for table in TABLES}
        for subscriber, account in demo_rows(n):
            msisdn = subscriber[0]
            batches["subscriber"].append(subscriber)
            batches["boss_account"].append((msisdn, *account))
            if account[0]:
                batches["points_entry"].append((msisdn, account[0], "opening", "", f"opening:{msisdn}", OPENED))
            if len(batches["subscriber"]) == BATCH:
                _flush(cur, sql, batches)
        _flush(cur, sql, batches)
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
