"""The weekly value-loss scoring: every subscriber with usage gets the ISO week's zone, score and reasons,
read and written a page at a time. Every week is kept (an agent sees green -> red); a week scored twice is
replaced page by page, never doubled. Queued weekly by the schedule and by `shortcode churn score`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete
from sqlalchemy.engine import Engine

from integrations.boss import Usage
from integrations.boss.simulated import SimulatedBoss
from integrations.boss.usage_demo import month_of, months_before
from integrations.sqltx import write
from jobs.churn_features import WINDOW, dormant, features
from jobs.churn_tree import TREE_FILE, Thresholds, Tree, keep_reasons, zone
from jobs.schedule import Periodic, provide
from jobs.tables import ChurnScore

SCORES = ChurnScore.__table__
OPERATOR_ZONE = ZoneInfo("Asia/Shanghai")
RUN_TIMEOUT_S = 1800  # a million subscribers take about a minute; RQ's default 180 s leaves too little room


@dataclass(frozen=True)
class Scored:
    subscribers: int
    zones: dict[str, int]


def week_of(moment: datetime, tz: ZoneInfo = OPERATOR_ZONE) -> tuple[str, str]:
    """(ISO week "2026-W49", scoring month "2026-12") of a moment in the operator's zone."""
    day = moment.astimezone(tz).date()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}", month_of(day)


def score_page(tree: Tree, limits: Thresholds, dormant_days: int, week: str,
               page: Iterable[tuple[str, list[Usage]]]) -> list[tuple]:
    """The rows to keep for one page of subscribers: pure, no I/O."""
    rows = []
    for msisdn, months in page:
        row = features(months)
        score, reasons = tree.score(row)
        rows.append((msisdn, week, zone(score, row, dormant(months, dormant_days), limits), score,
                     keep_reasons(reasons)))
    return rows


def keep(engine: Engine, week: str, rows: list[tuple]) -> None:
    """One transaction a page: the week's rows for the page's numbers replaced by these. The insert goes to
    the driver as plain tuples: building a parameter dict a row cost more than the scoring."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO churn_score (msisdn, week, zone, score, reasons) VALUES ({', '.join([mark] * 5)})"

    def work(conn) -> None:
        conn.execute(delete(SCORES).where(and_(SCORES.c.week == week, SCORES.c.msisdn >= rows[0][0],
                                               SCORES.c.msisdn <= rows[-1][0])))
        conn.exec_driver_sql(sql, rows)

    write(engine, work)


def score_all(boss: SimulatedBoss, week: str, month: str, limits: Thresholds = Thresholds(),
              dormant_days: int = 0, tree: Tree | None = None,
              progress: Callable[[int], None] | None = None) -> Scored:
    """Score everyone with usage in the WINDOW months before `month`, for `week`."""
    tree = tree or Tree.load()
    zones, done = dict.fromkeys(("blue", "green", "yellow", "red", "white"), 0), 0
    for page in boss.usage(months_before(month, WINDOW)):
        rows = score_page(tree, limits, dormant_days, week, page)
        keep(boss.engine, week, rows)
        for row in rows:
            zones[row[2]] += 1
        done += len(rows)
        if progress:
            progress(done)
    return Scored(done, zones)


def score_week(week: str, month: str, red: float = 0.6, yellow: float = 0.35, green: float = 0.15,
               dormant_days: int = 0, tree: str = "") -> dict:
    """RQ job: plain values in (the schedule passes [churn]); the counts out, kept in the job's result."""
    from jobs import process

    scored = score_all(SimulatedBoss(process.engine()), week, month, Thresholds(red, yellow, green), dormant_days,
                       Tree.load(Path(tree) if tree else TREE_FILE))
    return {"week": week, "subscribers": scored.subscribers, **scored.zones}


def arguments(settings: Any) -> dict[str, Any]:
    """[churn] as the job's plain arguments."""
    c = settings.churn
    return {"red": c.red, "yellow": c.yellow, "green": c.green, "dormant_days": c.dormant_days,
            "tree": str(settings.path(Path(c.tree)))}


def _week(slot: datetime) -> dict[str, str]:
    week, month = week_of(slot)
    return {"week": week, "month": month}


@provide
def churn_entries(settings: Any) -> list[Periodic]:
    """The weekly scoring, `churn-score`, at [schedule] churn."""
    return [Periodic("churn-score", score_week, settings.schedule.churn, arguments(settings), per_slot=_week,
                     timeout=RUN_TIMEOUT_S)]
