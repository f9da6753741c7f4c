"""The simulated BOSS's monthly usage history: a deterministic generator (seeded) that fills any number of
subscribers with months of usage, churn patterns planted in a known share, and the label of who went on to
lose value, so the value-loss model can be trained and judged. Bulk rows only; inserting is the caller's."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Iterator

SEED = 12582
MONTHS = 6  # months of history before the scoring month
# What kind of subscriber each one is, planted in these shares (the rest are stable):
CHURN_SHARE = 0.18  # value falling: spend down, more calls to other networks, fewer active days, complaints
QUIET_SHARE = 0.3  # of the churners, the share whose signs are faint (the model cannot catch every one)
DORMANT_SHARE = 0.03  # no use at all in the last two months: win-back, not retention
RISING_SHARE = 0.12  # spend growing
DIP_SHARE = 0.15  # of the stable ones, a share with one bad month (what fools a naive month-on-month rule)
LOST_IF = {"churner": 0.85, "quiet": 0.6, "dormant": 1.0, "rising": 0.02, "stable": 0.04}  # P(label lost)
ARPU_FEN = {"regular": 5_000, "silver": 12_000, "gold": 25_000, "diamond": 50_000}  # a month's spend by tier
COLUMNS = ("msisdn", "month", "arpu_fen", "voice_min", "data_mb", "sms", "topup_fen", "active_days", "calls",
           "offnet_calls", "complaints", "arrears_days", "tenure_months")


@dataclass(frozen=True)
class Planted:
    """One subscriber's generated history: its kind (what was planted), usage rows and label row."""

    kind: str
    usage: list[tuple]
    label: tuple


def months_before(scoring: str, n: int = MONTHS) -> list[str]:
    """The n months before the scoring month ("2026-12" -> ["2026-06", ..., "2026-11"]), oldest first."""
    year, month = map(int, scoring.split("-"))
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - n, index)]


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def history(subscribers: Iterable[tuple[str, str]], scoring: str, seed: int = SEED,
            months: int = MONTHS) -> Iterator[Planted]:
    """(msisdn, tier) in, one `Planted` each out; the same subscribers, month and seed give the same rows."""
    rng = random.Random(seed)
    names = months_before(scoring, months)
    for msisdn, tier in subscribers:
        kind = _kind(rng)
        rows = _months(rng, msisdn, tier, kind, names)
        yield Planted(kind, rows, (msisdn, scoring, rng.random() < LOST_IF[kind]))


def _kind(rng: random.Random) -> str:
    r = rng.random()
    if r < CHURN_SHARE:
        return "quiet" if rng.random() < QUIET_SHARE else "churner"
    if r < CHURN_SHARE + DORMANT_SHARE:
        return "dormant"
    return "rising" if r < CHURN_SHARE + DORMANT_SHARE + RISING_SHARE else "stable"


def _months(rng: random.Random, msisdn: str, tier: str, kind: str, names: list[str]) -> list[tuple]:
    """Usage per month: a level by tier, noise, and the kind's pattern over the last months."""
    arpu = ARPU_FEN.get(tier, 5_000) * rng.lognormvariate(0, 0.35)
    offnet, days = 0.08 + rng.random() * 0.2, 22 + int(rng.random() * 9)
    tenure = 1 + int(rng.random() * 180)
    start = len(names) - 3 - int(rng.random() * 2)  # a decline begins 3 or 4 months before scoring
    drop = rng.uniform(0.02, 0.07) if kind == "quiet" else rng.uniform(0.1, 0.25)
    dip = len(names) - 1 - int(rng.random() * 3) if kind == "stable" and rng.random() < DIP_SHARE else -1
    rows = []
    for k, month in enumerate(names):
        level, share, active, complaints, arrears = 1 + rng.gauss(0, 0.05), offnet, days, 0, 0
        if kind == "rising":
            level *= 1.05 ** k
        elif kind in ("churner", "quiet") and k >= start:
            steps = k - start + 1
            level *= (1 - drop) ** steps
            share = min(0.9, offnet + steps * (0.02 if kind == "quiet" else rng.uniform(0.05, 0.12)))
            active = max(1, days - steps * (1 if kind == "quiet" else 2 + int(rng.random() * 3)))
            complaints = int(rng.random() < (0.1 if kind == "quiet" else 0.3))
            arrears = int(rng.random() * 15) if rng.random() < (0.1 if kind == "quiet" else 0.3) else 0
        elif kind == "dormant" and k >= len(names) - 2:
            level, active = 0.0, 0
        elif k == dip:
            level *= 0.8
        rows.append(_row(rng, msisdn, month, arpu * max(level, 0.0), share, active, complaints, arrears,
                         tenure + k))
    return rows


def _row(rng: random.Random, msisdn: str, month: str, spend: float, share: float, active: int,
         complaints: int, arrears: int, tenure: int) -> tuple:
    calls = int(spend / 40 * (0.8 + rng.random() * 0.4)) if active else 0
    topup = int(spend * (0.5 + rng.random())) // 1_000 * 1_000
    return (msisdn, month, int(spend), int(spend / 25), int(spend / 8 * (0.5 + rng.random())),
            int(spend / 500 * rng.random()), topup, active, calls, int(calls * share), complaints, arrears,
            tenure)
