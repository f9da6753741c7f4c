"""The gate every reminder and marketing row passes right before it is submitted, in both senders: the opt-out,
then quiet hours in the subscriber's own time zone (the row waits for the morning), then the frequency caps of
its class (counted in `send_cap` by conditional updates, so racing workers cannot pass them). Replies and
confirmations are never gated.

A cap slot is taken before the submit and given back, in the transaction that records the outcome, when the
row is not sent after all (refused, retried, deferred): a failed send does not eat the cap. A worker that dies
between the two leaves the row marked (`error` = "cap counted DAY"), so the row taken over is not counted twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import Table, TextClause, column, select, table, text, update
from sqlalchemy.engine import Connection, Engine

from integrations import sqlrows
from integrations.sqltx import write
from jobs.tables import OptOut, SendCap

log = structlog.get_logger()
OPT, CAP = OptOut.__table__, SendCap.__table__
# the subscriber table belongs to the runtime (bot/models.py); a job names only the columns it reads
SUBSCRIBER = table("subscriber", column("msisdn"), column("timezone"))
GATED = frozenset({"reminder", "marketing"})  # replies and confirmations always go
DEFAULT_CLASS = {"reminder": "care", "marketing": "marketing"}  # a row written without a cap class
COUNTED = "cap counted "  # the row's error while its cap slot is taken and its outcome unknown
QUIET = "quiet hours"


# -- pure parts ------------------------------------------------------------------------------------------

def quiet_until(local: datetime, start: time, end: time) -> datetime | None:
    """The first allowed local moment if `local` falls in the quiet hours [start, end), else None.
    The window may cross midnight (21:00-08:00) or not (13:00-14:00); start == end means none."""
    now = local.time().replace(tzinfo=None)
    if start == end:
        return None
    crosses = start > end
    quiet = (now >= start or now < end) if crosses else (start <= now < end)
    if not quiet:
        return None
    day = local.date() + timedelta(days=1) if crosses and now >= start else local.date()
    return datetime.combine(day, end, tzinfo=local.tzinfo)


def windows(day: date) -> tuple[str, str]:
    """The cap windows a local date falls in: its day ("d:2026-12-02") and its ISO week ("w:2026-W49")."""
    year, week, _ = day.isocalendar()
    return f"d:{day.isoformat()}", f"w:{year}-W{week:02d}"


def cap_class(row: Any) -> str:
    """The row's cap class; one written without it is capped as its kind's default."""
    return row.cap_class or DEFAULT_CLASS.get(row.kind, row.kind)


@lru_cache(maxsize=512)
def zone(name: str, default: str) -> ZoneInfo:
    """A subscriber's zone; a name the system does not know is taken as the service's."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


@dataclass(frozen=True)
class Cap:
    """At most `day` a day and `week` an ISO week per subscriber; None: no limit on that window."""

    day: int | None = None
    week: int | None = None

    def limit(self, window: str) -> int | None:
        return self.day if window.startswith("d:") else self.week


# -- what the gate decides -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Held:
    """A row the gate held back: suppressed (opted out), pending (deferred for quiet hours; the attempt is
    given back) or capped (final)."""

    row_id: int
    status: str
    error: str
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class Slot:
    """The cap slot a row took: given back if the row ends other than sent."""

    msisdn: str
    cap_class: str
    day: str  # the local date, "2026-12-02": its day and ISO week windows


@dataclass
class Verdict:
    """The gate's answer for one batch."""

    held: list[Held] = field(default_factory=list)
    slots: dict[int, Slot] = field(default_factory=dict)  # row id -> slot taken (now or by a dead worker)

    def counts(self) -> dict[str, int]:
        out = {"suppressed": 0, "deferred": 0, "capped": 0}
        for h in self.held:
            out["deferred" if h.status == "pending" else h.status] += 1
        return out


@dataclass(frozen=True)
class Gate:
    """Quiet hours ([reminders] quiet_start/quiet_end) and caps ([reminders.caps]) for every gated row;
    subscribers without a time zone live in `default_zone`."""

    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    caps: Mapping[str, Cap] = field(default_factory=lambda: {
        "care": Cap(2, 5), "marketing": Cap(1, 3), "service": Cap()})
    default_zone: str = "Asia/Shanghai"

    @classmethod
    def from_settings(cls, reminders: Any, default_zone: str) -> Gate:
        """From `[reminders]` (bot.settings.Reminders, validated there)."""
        return cls(time.fromisoformat(reminders.quiet_start), time.fromisoformat(reminders.quiet_end),
                   {name: Cap(c.day, c.week) for name, c in reminders.caps.items()}, default_zone)

    def screen(self, engine: Engine, outbox: Table, rows: Iterable[Any], token: str, now: datetime) -> Verdict:
        """Decide every gated row of a claimed batch (rows with id, msisdn, kind, cap_class, error): opt-out,
        then quiet hours, then caps. What passes is sent; its cap slot, if any, is in `slots`, and the row is
        marked as counted in the same transaction."""
        rows = list(rows)
        if not any(r.kind in GATED for r in rows):
            return Verdict()
        return write(engine, lambda conn: self.decide(conn, rows, now, (outbox, token)))

    def decide(self, conn: Connection, rows: Iterable[Any], now: datetime,
               mark: tuple[Table, str] | None = None) -> Verdict:
        """`screen` in the caller's write transaction. Without `mark` the caller writes each new slot's
        `counted(slot)` into its row itself (the SMS sender, in the statement that claims the rows)."""
        gated = [r for r in rows if r.kind in GATED]
        verdict = Verdict()
        if not gated:
            return verdict
        stopped = _opted_out(conn, {r.msisdn for r in gated if r.msisdn})
        zones = self._zones(conn, {r.msisdn for r in gated if r.msisdn})
        capped: list[tuple[Any, date]] = []
        for r in gated:
            local = now.astimezone(zones.get(r.msisdn) or zone("", self.default_zone))
            if r.error.startswith(COUNTED):  # a dead worker took its slot: still ours, or given back below
                verdict.slots[r.id] = Slot(r.msisdn, cap_class(r), r.error[len(COUNTED):])
            if r.msisdn in stopped:
                verdict.held.append(Held(r.id, "suppressed", "opted out"))
            elif (morning := quiet_until(local, self.quiet_start, self.quiet_end)) is not None:
                verdict.held.append(Held(r.id, "pending", QUIET, morning.astimezone(timezone.utc)))
            elif r.msisdn and r.id not in verdict.slots and self._capped(cap_class(r)):
                capped.append((r, local.date()))
        if capped:
            self._take(conn, capped, verdict)
            if mark:
                _mark(conn, *mark, [(r.id, counted(verdict.slots[r.id])) for r, _ in capped if r.id in verdict.slots])
        return verdict

    def _capped(self, name: str) -> bool:
        cap = self.caps.get(name)
        return cap is not None and (cap.day is not None or cap.week is not None)

    def _zones(self, conn: Connection, numbers: set[str]) -> dict[str, ZoneInfo]:
        if not numbers:
            return {}
        found = conn.execute(select(SUBSCRIBER.c.msisdn, SUBSCRIBER.c.timezone)
                             .where(sqlrows.among(conn, "subscriber.msisdn", "numbers", "text")),
                             {"numbers": sqlrows.values(conn, numbers)}).all()
        return {m: zone(tz or "", self.default_zone) for m, tz in found}

    # -- the counters ------------------------------------------------------------------------------------

    def _take(self, conn: Connection, wanted: list[tuple[Any, date]], verdict: Verdict) -> None:
        """Take a slot in the day and the week window of each row, or cap it: one round per row of the same
        subscriber and class, so each round is a set-based upsert per window."""
        for batch in _rounds(wanted):
            self._round(conn, batch, verdict)

    def _round(self, conn: Connection, batch: list[tuple[Any, date]], verdict: Verdict) -> None:
        day_ok = self._bump(conn, batch, 0)
        got = [(r, d) for r, d in batch if r.id in day_ok]
        week_ok = self._bump(conn, got, 1)
        _undo(conn, [(r, d) for r, d in got if r.id not in week_ok], 0)  # the week refused: undo the day
        for r, d in batch:
            name = cap_class(r)
            if r.id in week_ok:
                verdict.slots[r.id] = Slot(r.msisdn, name, d.isoformat())
            else:
                window = windows(d)[0 if r.id not in day_ok else 1]
                verdict.held.append(Held(r.id, "capped", f"capped: {name} {window}"))

    def _bump(self, conn: Connection, batch: list[tuple[Any, date]], which: int) -> set[int]:
        """sent += 1 for the window `which` (0 day, 1 week) of each row, where that stays within the cap, the
        counter made at 1 where there is none; returns the rows that got their slot. One upsert per class and
        window: a conditional update cannot pass the cap, whichever worker runs it first."""
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for r, d in batch:
            groups.setdefault((cap_class(r), windows(d)[which]), {})[r.msisdn] = r.id
        moved: set[int] = set()
        for (name, window), rows in sorted(groups.items()):
            limit = self.caps[name].limit(window)
            if limit is not None and limit < 1:
                continue
            done = conn.execute(_upsert(conn, limit is not None), {
                "numbers": sqlrows.values(conn, sorted(rows)), "cls": name, "win": window, "limit": limit}).scalars()
            moved |= {rows[m] for m in done}
        return moved


def _upsert(conn: Connection, limited: bool) -> TextClause:
    """Counters for a list of numbers in one class and window: made at 1, or raised by 1 below the limit.
    RETURNING names the numbers that got a slot (a conflicting row the WHERE refuses is not returned). The
    `WHERE true` is SQLite's rule for an upsert from a SELECT."""
    if conn.dialect.name == "postgresql":
        numbers = "SELECT n FROM unnest(CAST(:numbers AS text[])) AS v(n)"
    else:
        numbers = "SELECT value FROM json_each(:numbers)"
    below = " WHERE send_cap.sent < :limit" if limited else ""
    return text(f'INSERT INTO send_cap (msisdn, cap_class, "window", sent) SELECT m.*, :cls, :win, 1 FROM ({numbers}) '
                f'AS m WHERE true ON CONFLICT (msisdn, cap_class, "window") DO UPDATE SET sent = send_cap.sent + 1{below} '
                'RETURNING msisdn')


def _undo(conn: Connection, batch: list[tuple[Any, date]], which: int) -> None:
    """Give back the slot of the window `which` that these rows took (their other window refused them)."""
    for r, d in batch:
        conn.execute(update(CAP).where(CAP.c.msisdn == r.msisdn, CAP.c.cap_class == cap_class(r),
                                       CAP.c.window == windows(d)[which], CAP.c.sent > 0).values(sent=CAP.c.sent - 1))


def counted(slot: Slot) -> str:
    """The error a row carries while its cap slot is taken and its outcome unknown."""
    return COUNTED + slot.day


def _mark(conn: Connection, outbox: Table, token: str, marks: list[tuple[int, str]]) -> None:
    """Marked in the slots' transaction, so a worker dying now cannot count a row twice; one statement per
    day (a statement per row cost a fifth of a million-reminder send, bench/reminder_run.py)."""
    by_mark: dict[str, list[int]] = {}
    for row_id, mark in marks:
        by_mark.setdefault(mark, []).append(row_id)
    for mark, ids in by_mark.items():
        conn.execute(update(outbox).where(sqlrows.among(conn, f"{outbox.name}.id", "ids"), outbox.c.claim == token)
                     .values(error=mark), {"ids": sqlrows.values(conn, ids)})


def give_back(conn: Connection, slots: Iterable[Slot]) -> None:
    """The rows that took these slots were not sent: their day and week counters go down again, in the
    transaction that records why."""
    for slot in slots:
        for window in windows(date.fromisoformat(slot.day)):
            conn.execute(update(CAP).where(CAP.c.msisdn == slot.msisdn, CAP.c.cap_class == slot.cap_class,
                                           CAP.c.window == window, CAP.c.sent > 0).values(sent=CAP.c.sent - 1))


def _rounds(wanted: list[tuple[Any, date]]) -> list[list[tuple[Any, date]]]:
    """Split the rows so a subscriber and class appear at most once per round (in row order)."""
    rounds: list[list[tuple[Any, date]]] = []
    seen: dict[tuple[str, str], int] = {}
    for r, d in sorted(wanted, key=lambda item: item[0].id):
        n = seen.get((r.msisdn, cap_class(r)), 0)
        seen[(r.msisdn, cap_class(r))] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append((r, d))
    return rounds


def _opted_out(conn: Connection, numbers: set[str]) -> set[str]:
    if not numbers:
        return set()
    return set(conn.execute(select(OPT.c.msisdn).where(sqlrows.among(conn, "opt_out.msisdn", "numbers", "text"),
                                                        OPT.c.opted_out), {"numbers": sqlrows.values(conn, numbers)})
               .scalars())


def logged(channel: str, verdict: Verdict) -> None:
    """Counts and row ids only: never a number or a text."""
    if verdict.held:
        log.info("outbox_gated", channel=channel, **verdict.counts(),
                 rows=[h.row_id for h in verdict.held][:50])
