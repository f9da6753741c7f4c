"""The weekly value-loss scoring: every subscriber with usage gets the ISO week's zone, score and reasons.
Every week is kept (an agent sees green -> red); a week scored twice is replaced, never doubled. The week is
split into msisdn ranges (`jobs.churn_parts`), each an RQ job, so every worker scores at once; queued weekly
by the schedule and by `shortcode churn score --queue` (`shortcode churn score` alone scores in the process)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import delete, text
from sqlalchemy.engine import Connection, Engine

from integrations.boss.simulated import SimulatedBoss
from integrations.boss.usage_demo import month_of, months_before
from integrations.sqlrows import is_pg, table, table_params
from integrations.sqltx import utcnow, write
from jobs import churn_parts
from jobs.churn_features import WINDOW, dormant, features
from jobs.churn_tree import TREE_FILE, ZONES, Thresholds, Tree, zone
from jobs.schedule import Periodic, provide
from jobs.tables import ChurnScore

log = structlog.get_logger()

SCORES = ChurnScore.__table__
OPERATOR_ZONE = ZoneInfo("Asia/Shanghai")
RUN_TIMEOUT_S = 600  # the weekly entry only plans the week and queues its parts; each part has its own timeout
COLUMNS = {"msisdn": "text", "week": "text", "zone": "text", "score": "float", "reasons": "text"}
Scorer = Callable[[Sequence[float]], tuple[float, str]]  # a row's score and reasons as kept (Tree.compiled)


@dataclass(frozen=True)
class Scored:
    subscribers: int
    zones: dict[str, int]


@dataclass(frozen=True)
class Model:
    """What scoring a row needs, built once a run."""

    scored: Scorer
    limits: Thresholds = Thresholds()
    dormant_days: int = 0

    @classmethod
    def of(cls, tree: Tree | None = None, limits: Thresholds = Thresholds(), dormant_days: int = 0) -> Model:
        return cls((tree or Tree.load()).compiled(), limits, dormant_days)


def week_of(moment: datetime, tz: ZoneInfo = OPERATOR_ZONE) -> tuple[str, str]:
    """(ISO week "2026-W49", scoring month "2026-12") of a moment in the operator's zone."""
    day = moment.astimezone(tz).date()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}", month_of(day)


def score_page(model: Model, week: str, page: Iterable[list[tuple]]) -> list[tuple]:
    """The rows to keep for one page of subscribers (`Boss.usage_rows`): pure, no I/O."""
    rows, scored, limits, days = [], model.scored, model.limits, model.dormant_days
    for months in page:
        row = features(months)
        score, reasons = scored(row)
        rows.append((months[0][-1], week, zone(score, row, dormant(months, days), limits), score, reasons))
    return rows


def clear(engine: Engine, week: str, lo: str, hi: str | None) -> None:
    """The week's rows of a range go before it is scored again: by primary key range, in one statement."""
    where = [SCORES.c.week == week, SCORES.c.msisdn >= lo] + ([SCORES.c.msisdn < hi] if hi is not None else [])
    write(engine, lambda conn: conn.execute(delete(SCORES).where(*where)))


def keep(engine: Engine, rows: list[tuple]) -> None:
    """One statement a page: arrays through `unnest` on PostgreSQL; on SQLite the driver's executemany of
    plain tuples (a parameter dict a row cost more than the scoring)."""
    write(engine, lambda conn: _insert(conn, rows))


def _insert(conn: Connection, rows: list[tuple]) -> None:
    if is_pg(conn):
        sql = f"INSERT INTO churn_score ({', '.join(COLUMNS)}) SELECT * FROM {table(conn, 's', COLUMNS)}"
        conn.execute(text(sql), table_params(conn, "s", COLUMNS, rows))
    else:
        conn.exec_driver_sql(f"INSERT INTO churn_score ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)", rows)


def score_range(boss: SimulatedBoss, week: str, month: str, model: Model, lo: str = "", hi: str | None = None,
                progress: Callable[[int], None] | None = None) -> Scored:
    """Score everyone in lo <= msisdn < hi with usage in the WINDOW months before `month`, for `week`."""
    zones, done = dict.fromkeys(ZONES, 0), 0
    clear(boss.engine, week, lo, hi)
    for page in boss.usage_rows(months_before(month, WINDOW), lo, hi):
        rows = score_page(model, week, page)
        keep(boss.engine, rows)
        for row in rows:
            zones[row[2]] += 1
        done += len(rows)
        if progress:
            progress(done)
    return Scored(done, zones)


def score_all(boss: SimulatedBoss, week: str, month: str, limits: Thresholds = Thresholds(),
              dormant_days: int = 0, tree: Tree | None = None,
              progress: Callable[[int], None] | None = None) -> Scored:
    """The whole week in this process (no parts)."""
    return score_range(boss, week, month, Model.of(tree, limits, dormant_days), progress=progress)


def _model(red: float, yellow: float, green: float, dormant_days: int, tree: str) -> Model:
    return Model.of(Tree.load(Path(tree) if tree else TREE_FILE), Thresholds(red, yellow, green), dormant_days)


def score_part(week: str, part: int, red: float = 0.6, yellow: float = 0.35, green: float = 0.15,
               dormant_days: int = 0, tree: str = "", lease_s: int = churn_parts.PART_TIMEOUT_S) -> dict:
    """RQ job: one part of the week, once. A part done, or held by a live worker, is left alone."""
    from jobs import process

    engine = process.engine()
    taken = churn_parts.claim(engine, week, part, utcnow(), lease_s)
    if taken is None:
        return {"week": week, "part": part, "skipped": True}
    month, lo, hi = taken
    scored = score_range(SimulatedBoss(engine), week, month, _model(red, yellow, green, dormant_days, tree), lo, hi)
    churn_parts.finish(engine, week, part, scored.subscribers, utcnow())
    return {"week": week, "part": part, "subscribers": scored.subscribers, **scored.zones}


def queue_parts(engine: Engine, queue: Any, week: str, month: str, arguments: dict[str, Any],
                parts: int = churn_parts.PARTS, lease_s: int = churn_parts.PART_TIMEOUT_S) -> int:
    """Plan the week and queue a job for each part not done yet; how many were queued. A part's lease is its
    RQ timeout: past it, no worker is still scoring it."""
    from rq import Retry

    todo = churn_parts.plan(engine, week, month, parts)
    for part in todo:  # retried when RQ finds its worker died; the part's lease keeps the redo to one
        queue.enqueue(score_part, week, part, **arguments, lease_s=lease_s, job_timeout=lease_s, retry=Retry(max=2))
    return len(todo)


def score_week(week: str, month: str, red: float = 0.6, yellow: float = 0.35, green: float = 0.15,
               dormant_days: int = 0, tree: str = "", parts: int = churn_parts.PARTS) -> dict:
    """RQ job (the weekly entry): plain values in (the schedule passes [churn]); queues the week's parts on
    this job's own queue, so every worker takes some."""
    from rq import Queue, get_current_job

    from jobs import process

    job = get_current_job()
    arguments = {"red": red, "yellow": yellow, "green": green, "dormant_days": dormant_days, "tree": tree}
    queued = queue_parts(process.engine(), Queue(job.origin, connection=job.connection), week, month, arguments,
                         parts)
    return {"week": week, "queued": queued}


def rescan(red: float = 0.6, yellow: float = 0.35, green: float = 0.15, dormant_days: int = 0,
           tree: str = "", lease_s: int = churn_parts.PART_TIMEOUT_S) -> dict:
    """RQ job (`churn-rescan`): queue again every part whose worker died mid-part (its lease passed before it
    was done), so a week completes by itself; the claim keeps each part's effect to once."""
    from rq import Queue, get_current_job

    from jobs import process

    job = get_current_job()
    dead = churn_parts.stalled(process.engine(), utcnow())
    for week, part in dead:
        Queue(job.origin, connection=job.connection).enqueue(
            score_part, week, part, red=red, yellow=yellow, green=green, dormant_days=dormant_days, tree=tree,
            lease_s=lease_s, job_timeout=lease_s)
    if dead:
        log.info("churn_parts_requeued", parts=len(dead), weeks=sorted({w for w, _ in dead}))
    return {"requeued": len(dead)}


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
    """The weekly scoring, `churn-score`, at [schedule] churn; `churn-rescan` re-queues dead workers' parts."""
    return [Periodic("churn-score", score_week, settings.schedule.churn, arguments(settings), per_slot=_week,
                     timeout=RUN_TIMEOUT_S),
            Periodic("churn-rescan", rescan, settings.schedule.churn_rescan, arguments(settings))]
