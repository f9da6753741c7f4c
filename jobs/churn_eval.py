"""Judging the value-loss model against the labels: the labelled cohort read from the BOSS, split into a
training part and a held-out part by number, and precision, recall and lift of a flagged set beside the naive
rule (spend fell month on month). Plain Python: only training needs scikit-learn."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from sqlalchemy import select

from integrations.boss import Usage
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.tables import UsageLabel
from integrations.boss.usage_demo import months_before
from jobs.churn_features import WINDOW

HELD_OUT = 5  # one number in this many is kept out of training and judged on


@dataclass(frozen=True)
class Labelled:
    msisdn: str
    months: list[Usage]  # the WINDOW months before the scoring month, oldest first
    lost: bool


def held_out(msisdn: str) -> bool:
    """A fixed fifth of the numbers, by a stable hash: the same split every run and on every machine."""
    return zlib.crc32(msisdn.encode()) % HELD_OUT == 0


def latest_labelled_month(boss: SimulatedBoss) -> str | None:
    with boss.engine.connect() as conn:
        return conn.execute(select(UsageLabel.month).order_by(UsageLabel.month.desc()).limit(1)).scalar()


def cohort(boss: SimulatedBoss, month: str) -> Iterator[Labelled]:
    """The subscribers labelled for the scoring `month`, each with its usage in the window before it."""
    label = UsageLabel.__table__
    with boss.engine.connect() as conn:
        lost = dict(conn.execute(select(label.c.msisdn, label.c.lost).where(label.c.month == month)).all())
    for page in boss.usage(months_before(month, WINDOW)):
        yield from (Labelled(msisdn, months, bool(lost[msisdn])) for msisdn, months in page if msisdn in lost)


@dataclass(frozen=True)
class Judged:
    """How well a rule's flagged set finds the subscribers who lost value."""

    name: str
    flagged: int
    hits: int  # flagged and lost
    lost: int  # lost in the whole cohort
    total: int

    @property
    def precision(self) -> float:
        return self.hits / self.flagged if self.flagged else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.lost if self.lost else 0.0

    @property
    def lift(self) -> float:
        """Precision against the base rate: how many times better than picking at random."""
        base = self.lost / self.total if self.total else 0.0
        return self.precision / base if base else 0.0


def judge(name: str, rows: Iterable[Labelled], flag: Callable[[Labelled], bool]) -> Judged:
    flagged = hits = lost = total = 0
    for row in rows:
        total += 1
        lost += row.lost
        if flag(row):
            flagged += 1
            hits += row.lost
    return Judged(name, flagged, hits, lost, total)


def table(results: Sequence[Judged]) -> list[str]:
    """The report's lines: one a rule, and by how much the first beats the last on lift."""
    lines = [f"{'rule':<24}{'flagged':>9}{'precision':>11}{'recall':>8}{'lift':>7}"]
    lines += [f"{r.name:<24}{r.flagged:>9}{r.precision:>11.1%}{r.recall:>8.1%}{r.lift:>7.2f}" for r in results]
    return lines
