"""Who is due for a reminder kind at a moment: each trigger asks the partners' Protocol methods (the BOSS, the
hospitals, the tee sheets, the police) and yields one `Due` per subscriber and occasion. Dates are the
operator's calendar days ([service] timezone), except the birthday, which is the subscriber's own."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import column, select, table
from sqlalchemy.engine import Engine

from integrations.sqlrows import among, values
from jobs.reminder_kinds import Kind
from jobs.reminder_values import Recipient

# the subscriber table belongs to the runtime (bot/models.py); a job names only the columns it reads
SUBSCRIBER = table("subscriber", column("msisdn"), column("name"), column("tier"), column("language"),
                   column("timezone"))
PAGE = 5000
ROAMING_PAGE = 1000
ROAMING_FRESH = timedelta(hours=24)  # a "welcome to" older than this (a backlog after an outage) is not sent


@dataclass(frozen=True)
class Due:
    """One reminder to write: to whom, for which occasion (the period in its cause), with the values read."""

    msisdn: str
    occasion: str
    data: dict[str, Any]


@dataclass
class Selection:
    """What a selection needs: the partners, the database (subscribers' time zones), the operator's zone."""

    services: Any
    engine: Engine
    zone: ZoneInfo
    default_timezone: str = "Asia/Shanghai"
    roaming_after: int = 0  # the roaming feed's cursor: events after this id
    roaming_last: int = field(default=0, init=False)  # the last event id seen (the next cursor)


def today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def recipients(engine: Engine, msisdns: Iterable[str], default_timezone: str) -> dict[str, Recipient]:
    """The subscribers among these numbers, with their language, time zone and tier."""
    numbers = list(msisdns)
    if not numbers:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(SUBSCRIBER).where(among(conn, "subscriber.msisdn", "numbers", "text")),
                            {"numbers": values(conn, numbers)}).all()
    return {r.msisdn: Recipient(r.msisdn, r.name, r.tier, r.language, r.timezone or default_timezone) for r in rows}


def every_subscriber(engine: Engine, page: int = PAGE) -> Iterator[str]:
    """Every subscriber's number, read in keyset pages ordered by number."""
    after = ""
    while True:
        with engine.connect() as conn:
            batch = conn.execute(select(SUBSCRIBER.c.msisdn).where(SUBSCRIBER.c.msisdn > after)
                                 .order_by(SUBSCRIBER.c.msisdn).limit(page)).scalars().all()
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1]


def _ahead(sel: Selection, kind: Kind, now: datetime) -> date:
    return today(now, sel.zone) + timedelta(days=int(kind.params.get("days_before", 0)))


def _bills_issued(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    for b in sel.services.boss.bills_issued(today(now, sel.zone)):
        yield Due(b.msisdn, b.period, {"period": b.period, "amount_fen": b.amount_fen, "due_on": b.due_on.isoformat()})


def _bills_due(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    for b in sel.services.boss.bills_due(_ahead(sel, kind, now)):
        if b.due_fen > 0:
            yield Due(b.msisdn, b.period, {"period": b.period, "due_fen": b.due_fen, "due_on": b.due_on.isoformat()})


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC times; PostgreSQL aware ones."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _low_balance(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    """One reminder per crossing: the crossing's time is the occasion."""
    threshold = int(kind.params["threshold_fen"])
    for low in sel.services.boss.low_balances(threshold):
        crossed = _utc(low.crossed_at)
        yield Due(low.msisdn, crossed.strftime("%Y%m%dT%H%M%S"),
                  {"balance_fen": low.balance_fen, "threshold_fen": threshold, "reward": kind.params["reward"],
                   "crossed_at": crossed.isoformat()})


def _packages_ending(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    for e in sel.services.boss.packages_ending(_ahead(sel, kind, now)):
        yield Due(e.msisdn, f"{e.package}-{e.until.isoformat()}", {"package": e.package, "until": e.until.isoformat()})


def cycle_end(day: date) -> date:
    """Points lapse at the end of November (the cycle runs December to November)."""
    return date(day.year, 11, 30)


def _points_expiring(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    """On the chosen days of November only: the points that lapse on Nov 30 of that year."""
    day = today(now, sel.zone)
    if day.month != 11 or day.day not in kind.params["days"]:
        return
    end = cycle_end(day)
    for msisdn, points in sel.services.boss.points_expiring(end):
        if points > 0:
            yield Due(msisdn, day.isoformat(), {"points": points, "cycle_end": end.isoformat()})


def _roaming(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    """The event feed after the run's cursor, oldest first, page by page; a stale event is passed over."""
    boss, after, tariffs = sel.services.boss, sel.roaming_after, {}
    while True:
        page = boss.roaming_events(after, ROAMING_PAGE)
        for ev in page:
            sel.roaming_last = after = max(after, ev.id)
            if now - _utc(ev.at) > ROAMING_FRESH:
                continue
            if ev.country not in tariffs:
                tariffs[ev.country] = boss.roaming_tariff(ev.country)
            t = tariffs[ev.country]
            yield Due(ev.msisdn, f"ev{ev.id}", {"event": ev.id, "country": ev.country,
                                                "day_fen": t.day_fen if t else None, "data_mb": t.data_mb if t else None})
        if len(page) < ROAMING_PAGE:
            return


class _Places:
    """Hospital and department names by department id, read once per run."""

    def __init__(self, hospital: Any) -> None:
        self.hospital, self._by_department = hospital, None

    def of(self, department_id: int) -> tuple[Any, Any] | None:
        if self._by_department is None:
            self._by_department = {d.id: (d, h) for h in self.hospital.hospitals()
                                   for d in self.hospital.departments(h.id)}
        return self._by_department.get(department_id)


def _appointments(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    places, hospital = _Places(sel.services.hospital), sel.services.hospital
    for msisdn, a in hospital.appointments_on(_ahead(sel, kind, now)):
        doctor = hospital.doctor(a.doctor_id)
        where = places.of(doctor.department_id) if doctor else None
        if where is None:
            continue
        department, place = where
        yield Due(msisdn, a.code, {"code": a.code, "day": a.day.isoformat(), "half": a.half, "number": a.number,
                                   "doctor_en": doctor.name_en, "doctor_zh": doctor.name_zh,
                                   "department_en": department.name_en, "department_zh": department.name_zh,
                                   "hospital_en": place.name_en, "hospital_zh": place.name_zh})


def _tee_times(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    courses = {c.id: c for c in sel.services.golf.courses()}
    for msisdn, b in sel.services.golf.bookings_on(_ahead(sel, kind, now)):
        course = courses.get(b.course_id)
        if course is None:
            continue
        yield Due(msisdn, b.code, {"code": b.code, "day": b.day.isoformat(), "slot": b.slot, "players": b.players,
                                   "course_en": course.name_en, "course_zh": course.name_zh})


def _inspections(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    for msisdn, v in sel.services.police.inspections_due(_ahead(sel, kind, now)):
        yield Due(msisdn, f"{v.plate}-{v.inspection_due.isoformat()}",
                  {"plate": v.plate, "due_on": v.inspection_due.isoformat()})


def born_on(boss: Any, day: date) -> set[str]:
    """Who celebrates on `day`: Feb 29 birthdays on Feb 28 in a common year and only then. Asking for both
    days keeps this right whether the BOSS folds Feb 29 into Feb 28 itself or not."""
    found = set(boss.birthdays(day.month, day.day))
    if (day.month, day.day) != (2, 28):
        return found
    leap = set(boss.birthdays(2, 29))
    is_leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    return found - leap if is_leap else found | leap


def _birthdays(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    """Run every hour: a subscriber is due once it is their birthday, from `from_hour`, in their own zone."""
    start = now.astimezone(timezone.utc).date()
    for day in (start - timedelta(days=1), start, start + timedelta(days=1)):  # UTC-12 .. UTC+14
        numbers = born_on(sel.services.boss, day)
        for r in recipients(sel.engine, numbers, sel.default_timezone).values():
            local = now.astimezone(_zone(r.timezone, sel.zone))
            if local.date() == day and local.hour >= int(kind.params["from_hour"]):
                yield Due(r.msisdn, day.isoformat(), {"day": day.isoformat()})


def _zone(name: str, fallback: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):  # a zone the system does not know: the operator's
        return fallback


def _holiday(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    day = today(now, sel.zone)
    name = kind.holiday_on(day)
    if name is None:
        return
    for msisdn in every_subscriber(sel.engine):
        yield Due(msisdn, day.isoformat(), {"holiday": name})


def _suspensions(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    for s in sel.services.boss.suspensions(_ahead(sel, kind, now)):
        if s.owed_fen > 0:
            yield Due(s.msisdn, s.suspend_on.isoformat(), {"owed_fen": s.owed_fen, "suspend_on": s.suspend_on.isoformat()})


SELECT: dict[str, Callable[[Selection, Kind, datetime], Iterator[Due]]] = {
    "bill-issued": _bills_issued, "bill-due": _bills_due, "low-balance": _low_balance,
    "package-ending": _packages_ending, "points-expiring": _points_expiring, "roaming": _roaming,
    "appointment": _appointments, "tee-time": _tee_times, "inspection-due": _inspections, "birthday": _birthdays,
    "holiday": _holiday, "suspension": _suspensions,
}
POLLED = frozenset({"low-balance", "roaming", "birthday"})  # run every few minutes: a run per minute


def period(kind: Kind, now: datetime, zone: ZoneInfo) -> str:
    """The run's period: the operator's day for daily kinds, its minute for the polled ones."""
    local = now.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M") if kind.trigger in POLLED else local.date().isoformat()


def due(sel: Selection, kind: Kind, now: datetime) -> Iterator[Due]:
    return SELECT[kind.trigger](sel, kind, now)
