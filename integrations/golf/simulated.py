"""Simulated tee sheets on our database, with demo courses; holds expire, the index forbids doubles."""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Callable, Iterator

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from integrations.faults import Faults
from integrations.golf import SLOTS, Booking, Course, HoldResult
from integrations.golf.tables import GolfCourse, TeeBooking
from integrations.sqltx import PAGE, pages, utc, utcnow, write

C = GolfCourse.__table__
TB = TeeBooking.__table__

DEMO_COURSES = (
    (1, "Mission Hills Shenzhen", "深圳观澜湖", 128_000, 168_000),
    (2, "Pine Valley Beijing", "北京华彬", 108_000, 148_000),
    (3, "Sheshan International", "上海佘山", 158_000, 198_000),
)


def seed_demo(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(TB))
        conn.execute(delete(C))
        conn.execute(insert(C), [dict(zip(("id", "name_en", "name_zh", "weekday_fee_fen", "weekend_fee_fen"), c))
                                 for c in DEMO_COURSES])


def booking_code(key: str) -> str:
    return "G" + hashlib.sha256(key.encode()).hexdigest()[:9].upper()


class SimulatedTeeSheets:
    def __init__(self, engine: Engine, faults: Faults | None = None,
                 clock: Callable[[], datetime] = utcnow, page: int = PAGE) -> None:
        self.engine = engine
        self.faults = faults or Faults()
        self.clock = lambda: utc(clock())
        self.page = page  # rows per keyset page of bookings_on

    def courses(self) -> list[Course]:
        self.faults.check("golf")
        with self.engine.connect() as conn:
            return [Course(*row) for row in conn.execute(select(
                C.c.id, C.c.name_en, C.c.name_zh, C.c.weekday_fee_fen, C.c.weekend_fee_fen).order_by(C.c.id))]

    def free_slots(self, course_id: int, day: date, now: datetime) -> list[int]:
        """Tee times with no live booking; today's past ones are gone (`now` is the course's local time)."""
        self.faults.check("golf")
        with self.engine.connect() as conn:
            taken = set(conn.execute(_TAKEN, {"course": course_id, "day": day, "now": self.clock()}).scalars())
        earliest = now.hour * 60 + now.minute if day == now.date() else -1
        return [s for s in SLOTS if s not in taken and s > earliest]

    def hold(self, course_id: int, day: date, slot: int, msisdn: str, players: int, key: str,
             until: datetime) -> HoldResult:
        self.faults.check("golf")
        now = self.clock()

        def work(conn: Connection) -> HoldResult:
            if conn.execute(select(TB.c.id).where(TB.c.idem_key == key)).first():
                return HoldResult(True)
            _expire_holds(conn, course_id, day, slot, now, msisdn)  # lapsed ones, and this subscriber's own
            conn.execute(insert(TB).values(code=booking_code(key), idem_key=key, course_id=course_id, day=day,
                                           slot=slot, msisdn=msisdn, players=players, status="held",
                                           hold_until=utc(until), created_at=now))
            return HoldResult(True)

        try:
            return write(self.engine, work)
        except IntegrityError:
            return HoldResult(True) if self._by_key(key) else HoldResult(False, "taken")

    def confirm(self, key: str, amount_fen: int, points: int, pay: str, now: datetime) -> Booking | None:
        """Turn the hold into a booking; an expired hold is re-taken if the tee time is still free."""
        self.faults.check("golf")
        paid = dict(status="booked", amount_fen=amount_fen, points=points, pay=pay)

        def work(conn: Connection) -> None:
            row = conn.execute(select(TB).where(TB.c.idem_key == key)).first()
            if row is None or row.status not in ("held", "expired"):
                return  # booked already (a retry), or given up after a refund: never booked again
            _expire_holds(conn, row.course_id, row.day, row.slot, self.clock())
            conn.execute(update(TB).where(TB.c.idem_key == key, TB.c.status.in_(("held", "expired")))
                         .values(**paid))

        try:
            write(self.engine, work)
        except IntegrityError:  # the hold had expired and someone else holds the tee time now
            return None
        booking = self._by_key(key)
        return booking if booking and booking.status == "booked" else None

    def release(self, key: str, final: bool = False) -> None:
        """Give a hold back at once (payment refused) instead of letting it expire; `final` also
        forbids confirming it later (its payment was refunded)."""
        self.faults.check("golf")
        status = "lost" if final else "expired"
        write(self.engine, lambda conn: conn.execute(
            update(TB).where(TB.c.idem_key == key, TB.c.status.in_(("held", "expired"))).values(status=status)))

    def stale_holds(self, before: datetime) -> list[tuple[str, str]]:
        """Holds that lapsed before `before` and were never booked nor given up: for reconciliation."""
        self.faults.check("golf")
        with self.engine.connect() as conn:
            rows = conn.execute(select(TB).where(TB.c.status.in_(("held", "expired")),
                                                 TB.c.hold_until < utc(before))).all()
        return [(r.idem_key, r.msisdn) for r in rows]

    def bookings(self, msisdn: str, since: date) -> list[Booking]:
        self.faults.check("golf")
        with self.engine.connect() as conn:
            rows = conn.execute(select(TB).where(TB.c.msisdn == msisdn, TB.c.status == "booked", TB.c.day >= since)
                                .order_by(TB.c.day, TB.c.slot)).all()
        return [_booking(r) for r in rows]

    def booking(self, code: str, msisdn: str) -> Booking | None:
        self.faults.check("golf")
        with self.engine.connect() as conn:
            row = conn.execute(select(TB).where(TB.c.code == code, TB.c.msisdn == msisdn)).first()
        return _booking(row) if row else None

    def cancel(self, code: str, msisdn: str) -> Booking | None:
        """Cancel a booking; cancelling twice answers with the same cancelled booking."""
        self.faults.check("golf")
        write(self.engine, lambda conn: conn.execute(update(TB).where(
            TB.c.code == code, TB.c.msisdn == msisdn, TB.c.status == "booked").values(status="cancelled")))
        booking = self.booking(code, msisdn)
        return booking if booking and booking.status == "cancelled" else None

    def bookings_on(self, day: date) -> Iterator[tuple[str, Booking]]:
        """Every booked tee time of a day with the golfer's number (held ones are no booking yet), in keyset
        pages (the reminder the day before)."""
        self.faults.check("golf")
        for rows in pages(self.engine, select(TB).where(TB.c.day == day, TB.c.status == "booked"), (TB.c.id,),
                          self.page):
            yield from ((r.msisdn, _booking(r)) for r in rows)

    def _by_key(self, key: str) -> Booking | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(TB).where(TB.c.idem_key == key)).first()
        return _booking(row) if row else None


def _expire_holds(conn: Connection, course_id: int, day: date, slot: int, now: datetime, msisdn: str = "") -> None:
    lapsed = TB.c.hold_until < now
    conn.execute(update(TB).where(TB.c.course_id == course_id, TB.c.day == day, TB.c.slot == slot,
                                  TB.c.status == "held", or_(lapsed, TB.c.msisdn == msisdn) if msisdn else lapsed)
                 .values(status="expired"))


def _live(now: datetime):
    return or_(TB.c.status == "booked", and_(TB.c.status == "held", TB.c.hold_until >= now))


# Built once: constructing the statement costs more than running it on every page of the tee-time list.
_TAKEN = select(TB.c.slot).where(TB.c.course_id == bindparam("course"), TB.c.day == bindparam("day"),
                                 _live(bindparam("now")))


def _booking(row) -> Booking:
    return Booking(row.code, row.course_id, row.day, row.slot, row.players, row.amount_fen, row.points, row.pay,
                   row.status)
