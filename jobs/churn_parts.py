"""A week's value-loss scoring split into msisdn ranges ("parts"), each an RQ job of its own so every worker
scores at once. `churn_part` records each part's state: a part is claimed for a lease, done once, and claimed
again only when a worker died holding it; the week is complete exactly when every part is done."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from integrations.boss.tables import BossUsage
from integrations.sqltx import utc, write
from jobs.tables import ChurnPart

P, U = ChurnPart.__table__, BossUsage.__table__
PARTS = 16  # enough for two workers to end together, few enough that a part's overhead stays small
PART_TIMEOUT_S = 600  # a part's RQ timeout and its lease: after it no worker can still be scoring it
Range = tuple[str, "str | None"]  # lo <= msisdn < hi; "" and None leave that side open


@dataclass(frozen=True)
class Progress:
    week: str
    done: int
    parts: int
    subscribers: int  # scored in the parts done

    @property
    def complete(self) -> bool:
        return self.done == self.parts


def cuts(first: str | None, last: str | None, parts: int) -> list[Range]:
    """Ranges that together hold every number, split evenly between the lowest and highest number with usage
    when they are E.164 of one length ("+8613800000001"); any other numbers fall in one open range."""
    if (parts < 2 or not first or not last or len(first) != len(last) or first[0] != "+" or last[0] != "+"
            or not (first[1:] + last[1:]).isdigit()):
        return [("", None)]
    low, high, width = int(first[1:]), int(last[1:]), len(first) - 1
    inner = sorted({f"+{low + (high - low) * i // parts:0{width}d}" for i in range(1, parts)} - {first})
    return list(zip(["", *inner], [*inner, None]))


def plan(engine: Engine, week: str, month: str, parts: int = PARTS) -> list[int]:
    """The week's parts, made at its first run; the numbers of those not done yet (all of them the first time,
    none once the week is complete, a dead worker's part on a re-run)."""
    def work(conn: Connection) -> list[int]:
        states = conn.execute(select(P.c.part, P.c.state).where(P.c.week == week).order_by(P.c.part)).all()
        if states:
            return [part for part, state in states if state != "done"]
        ranges = cuts(*conn.execute(select(func.min(U.c.msisdn), func.max(U.c.msisdn))).one(), parts)
        conn.execute(insert(P), [{"week": week, "part": i, "month": month, "lo": lo, "hi": hi, "state": "queued"}
                                 for i, (lo, hi) in enumerate(ranges)])
        return list(range(len(ranges)))

    try:
        return write(engine, work)
    except IntegrityError:  # another run planned the week at the same moment: its parts stand
        return write(engine, work)


def claim(engine: Engine, week: str, part: int, now: datetime,
          lease_s: int = PART_TIMEOUT_S) -> tuple[str, str, str | None] | None:
    """Take a part for `lease_s`: (month, lo, hi), or None when it is done or another worker's lease on it
    still runs (RQ stops a part at its timeout, the lease, so an expired lease means its worker is gone)."""
    now = utc(now)
    free = or_(P.c.state == "queued", and_(P.c.state == "running", P.c.lease_until < now))

    def work(conn: Connection):
        taken = conn.execute(update(P).where(P.c.week == week, P.c.part == part, free).values(
            state="running", lease_until=now + timedelta(seconds=lease_s))).rowcount
        return tuple(conn.execute(select(P.c.month, P.c.lo, P.c.hi).where(
            P.c.week == week, P.c.part == part)).one()) if taken == 1 else None

    return write(engine, work)


def finish(engine: Engine, week: str, part: int, subscribers: int, now: datetime) -> None:
    write(engine, lambda conn: conn.execute(update(P).where(P.c.week == week, P.c.part == part).values(
        state="done", subscribers=subscribers, done_at=utc(now), lease_until=None)))


def stalled(engine: Engine, now: datetime) -> list[tuple[str, int]]:
    """Parts whose worker died (running, lease passed), put back to "queued" so the caller queues each once
    more; (week, part) of each."""
    dead = and_(P.c.state == "running", P.c.lease_until < utc(now))

    def work(conn: Connection) -> list[tuple[str, int]]:
        found = [(w, p) for w, p in conn.execute(select(P.c.week, P.c.part).where(dead))]
        if found:
            conn.execute(update(P).where(dead).values(state="queued", lease_until=None))
        return found

    return write(engine, work)


def progress(engine: Engine, week: str | None = None) -> list[Progress]:
    """Parts done of each week planned (or of `week`), newest week first."""
    done = P.c.state == "done"
    query = (select(P.c.week, func.sum(case((done, 1), else_=0)), func.count(),
                    func.coalesce(func.sum(case((done, P.c.subscribers), else_=0)), 0))
             .group_by(P.c.week).order_by(P.c.week.desc()))
    with engine.connect() as conn:
        rows = conn.execute(query.where(P.c.week == week) if week else query).all()
    return [Progress(w, int(d), int(n), int(s)) for w, d, n, s in rows]
