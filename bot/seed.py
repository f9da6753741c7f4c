"""Deterministic demo data: subscribers numbered from +8613800000001, bulk-inserted."""
from __future__ import annotations

import random
import time
from typing import Iterator

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from bot.models import Subscriber

FIRST = 8613800000001
SEED = 12580
BATCH = 50_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂"
ENGLISH = ["Alex", "Chris", "Jamie", "Morgan", "Sam", "Taylor", "Jordan", "Casey", "Robin", "Lee"]
TIERS = (("regular", 60), ("silver", 25), ("gold", 12), ("diamond", 3))
COLUMNS = ("msisdn", "name", "tier", "language", "timezone", "points", "balance_fen", "bill_fen")

# The first demo number: a gold-tier, Chinese-speaking subscriber with something in every product.
SHOWCASE = ("+8613800000001", "张伟", "gold", "zh_Hans", "Asia/Shanghai", 12_800, 5_630, 18_850)


def demo_rows(n: int, seed: int = SEED) -> Iterator[tuple]:
    """N subscribers; the same N and seed always give the same rows."""
    rng = random.Random(seed)
    tiers = [t for t, _ in TIERS]
    weights = [w for _, w in TIERS]
    if n >= 1:
        yield SHOWCASE
    for i in range(1, n):
        english = rng.random() < 0.15
        name = rng.choice(ENGLISH) if english else rng.choice(SURNAMES) + rng.choice(GIVEN)
        tier = rng.choices(tiers, weights)[0]
        yield (f"+{FIRST + i}", name, tier, "en" if english else "zh_Hans", "Asia/Shanghai",
               rng.randrange(0, 60_000), rng.randrange(0, 50_000), rng.randrange(0, 60_000))


def count_subscribers(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Subscriber)).scalar_one()


def seed_demo(engine: Engine, n: int = 1000, if_empty: bool = False) -> tuple[int, float]:
    """Replace the subscribers with N demo ones (or keep them with if_empty). Returns (rows, seconds)."""
    started = time.perf_counter()
    if if_empty and count_subscribers(engine):
        return 0, 0.0
    table = Subscriber.__tablename__
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(text(f"DELETE FROM {table}").text)
        batch: list[tuple] = []
        for row in demo_rows(n):
            batch.append(row)
            if len(batch) == BATCH:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()
    return n, time.perf_counter() - started
