"""The value-loss model's features: pure arithmetic on a subscriber's usage in the three months before the
scoring month (levels, trends, ratios). No I/O, so training, scoring and tests share one definition."""
from __future__ import annotations

from typing import Sequence

from integrations.boss import Usage

WINDOW = 3  # months before the scoring month the features look at
FEATURES = (
    "arpu_yuan",  # spend in the latest month, yuan
    "spend_change_pct",  # spend, latest month against the first of the three, %
    "spend_mom_pct",  # spend, latest month against the one before, %
    "offnet_pct",  # calls to other networks, share of calls in the latest month, %
    "offnet_change_pts",  # that share, latest month less the first, percentage points
    "active_days",  # active days in the latest month
    "active_change",  # active days, latest month less the first
    "complaints",  # complaints over the three months
    "arrears_days",  # days in arrears in the latest month
    "topup_change_pct",  # top-ups, latest month against the first, %
    "data_change_pct",  # data, latest month against the first, %
    "tenure_months",
)
# positions in a month's row: a `Usage`, or a plain tuple laid out as one (`Boss.usage_rows`), read alike
(ARPU, DATA, TOPUP, ACTIVE, CALLS, OFFNET, COMPLAINTS, ARREARS,
 TENURE) = (Usage._fields.index(name) for name in ("arpu_fen", "data_mb", "topup_fen", "active_days", "calls",
                                                    "offnet_calls", "complaints", "arrears_days", "tenure_months"))


def change_pct(before: float, after: float) -> float:
    """The change from `before` to `after` in %; from nothing, +100 % when something came and 0 when not."""
    if before <= 0:
        return 100.0 if after > 0 else 0.0
    return round((after - before) / before * 100, 1)


def offnet_pct(month: Sequence) -> float:
    return round(month[OFFNET] / month[CALLS] * 100, 1) if month[CALLS] else 0.0


def features(months: Sequence[Sequence]) -> tuple[float, ...]:
    """The FEATURES of the last WINDOW months given (oldest first; `Usage` or rows laid out as one). A
    subscriber with fewer months is read as flat before its first one: no trend, not a fall."""
    n = len(months)  # a million a week: positions, not attributes or a padded copy of the window
    first, before, last = months[max(0, n - WINDOW)], months[max(0, n - 2)], months[-1]
    offnet, spend = offnet_pct(last), last[ARPU]
    return (round(spend / 100, 2),
            change_pct(first[ARPU], spend),
            change_pct(before[ARPU], spend),
            offnet,
            round(offnet - offnet_pct(first), 1),
            float(last[ACTIVE]),
            float(last[ACTIVE] - first[ACTIVE]),
            float(sum(m[COMPLAINTS] for m in months[-WINDOW:])),
            float(last[ARREARS]),
            change_pct(first[TOPUP], last[TOPUP]),
            change_pct(first[DATA], last[DATA]),
            float(last[TENURE]))


def dormant(months: Sequence[Sequence], active_days: int) -> bool:
    """No more than `active_days` of use in the latest month: already gone, a case for win-back."""
    return not months or months[-1][ACTIVE] <= active_days


def fell_month_on_month(months: Sequence[Usage]) -> bool:
    """The naive rule the tree is judged against: spend fell in each month of the window."""
    window = months[-WINDOW:]
    return len(window) == WINDOW and all(b.arpu_fen < a.arpu_fen for a, b in zip(window, window[1:]))
