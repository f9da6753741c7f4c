"""Simulated traffic police on our database, with demo vehicles and violations."""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable, Iterator

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from integrations.faults import Faults
from integrations.police import PayResult, Vehicle, Violation
from integrations.police.tables import PoliceBinding, PoliceVehicle, PoliceViolation
from integrations.sqltx import PAGE, pages, utcnow, write

V, BD, VI = PoliceVehicle.__table__, PoliceBinding.__table__, PoliceViolation.__table__

DEMO_VEHICLES = (("粤B12345", "123456", date(2027, 3, 31)), ("京N8K2Q1", "65432A", date(2026, 12, 15)),
                 ("粤BD12345", "777888", date(2028, 6, 30)))
DEMO_BINDINGS = (("+8613800000001", "京N8K2Q1"),)
DEMO_VIOLATIONS = (
    (1, "粤B12345", date(2026, 10, 8), "Shennan Blvd, Futian", "福田深南大道", "Speeding 20%", "超速20%", 20_000, 3),
    (2, "粤B12345", date(2026, 11, 2), "Binhe Rd, Futian", "福田滨河大道", "Running a red light", "闯红灯", 20_000, 6),
    (3, "粤B12345", date(2026, 5, 20), "Keyuan Rd, Nanshan", "南山科苑路", "Illegal parking", "违停", 15_000, 0),
    (4, "京N8K2Q1", date(2026, 11, 11), "East 3rd Ring Rd", "东三环", "Illegal parking", "违停", 10_000, 0),
)


def seed_demo(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (VI, BD, V):
            conn.execute(delete(table))
        conn.execute(insert(V), [dict(plate=p, vin_last6=v, inspection_due=d) for p, v, d in DEMO_VEHICLES])
        conn.execute(insert(BD), [dict(msisdn=m, plate=p) for m, p in DEMO_BINDINGS])
        conn.execute(insert(VI), [dict(zip(("id", "plate", "day", "place_en", "place_zh", "offence_en", "offence_zh",
                                            "fine_fen", "demerit"), v)) for v in DEMO_VIOLATIONS])
        conn.execute(update(VI).where(VI.c.id == 3).values(pay_key="demo-paid", paid_at=datetime(2026, 6, 1)))


class SimulatedTrafficPolice:
    def __init__(self, engine: Engine, faults: Faults | None = None,
                 clock: Callable[[], datetime] = utcnow, page: int = PAGE) -> None:
        self.engine = engine
        self.faults = faults or Faults()
        self.clock = clock
        self.page = page  # rows per keyset page of inspections_due

    def bind(self, msisdn: str, plate: str, vin_last6: str) -> str:
        """Bind a plate to a number with the last 6 of its VIN as proof; binding twice is fine."""
        self.faults.check("police")

        def work(conn: Connection) -> str:
            vin = conn.execute(select(V.c.vin_last6).where(V.c.plate == plate)).scalar_one_or_none()
            if vin is None:
                return "no_vehicle"
            if vin.upper() != vin_last6.upper():
                return "wrong_vin"
            if not conn.execute(select(BD.c.id).where(BD.c.msisdn == msisdn, BD.c.plate == plate)).first():
                conn.execute(insert(BD).values(msisdn=msisdn, plate=plate))
            return "ok"

        try:
            return write(self.engine, work)
        except IntegrityError:  # the same binding raced us
            return "ok"

    def vehicles(self, msisdn: str) -> list[Vehicle]:
        self.faults.check("police")
        with self.engine.connect() as conn:
            rows = conn.execute(select(V.c.plate, V.c.inspection_due).join(BD, BD.c.plate == V.c.plate)
                                .where(BD.c.msisdn == msisdn).order_by(V.c.plate)).all()
        return [Vehicle(r.plate, r.inspection_due) for r in rows]

    def inspections_due(self, on: date) -> Iterator[tuple[str, Vehicle]]:
        """Each binding of a vehicle whose annual inspection is due on `on`: a plate bound to two numbers
        reaches both."""
        self.faults.check("police")
        due = select(BD.c.id, BD.c.msisdn, V.c.plate, V.c.inspection_due).join(V, V.c.plate == BD.c.plate).where(
            V.c.inspection_due == on)
        for rows in pages(self.engine, due, (BD.c.id,), self.page):
            yield from ((r.msisdn, Vehicle(r.plate, r.inspection_due)) for r in rows)

    def violations(self, msisdn: str, plate: str) -> list[Violation]:
        self.faults.check("police")
        with self.engine.connect() as conn:
            rows = conn.execute(select(VI).join(BD, BD.c.plate == VI.c.plate).where(
                BD.c.msisdn == msisdn, VI.c.plate == plate, VI.c.pay_key.is_(None)).order_by(VI.c.day)).all()
        return [Violation(r.id, r.plate, r.day, r.place_en, r.place_zh, r.offence_en, r.offence_zh, r.fine_fen,
                          r.demerit, False) for r in rows]

    def pay(self, msisdn: str, violation_id: int, key: str) -> PayResult:
        """Mark a fine paid with a conditional update: paid once, and the same key gets the same answer."""
        self.faults.check("police")

        def work(conn: Connection) -> PayResult:
            row = conn.execute(select(VI.c.pay_key).where(VI.c.id == violation_id)).first()
            if row is None:
                return PayResult(False, "unknown")
            if row.pay_key is not None:
                return PayResult(row.pay_key == key, "" if row.pay_key == key else "already_paid")
            done = conn.execute(update(VI).where(VI.c.id == violation_id, VI.c.pay_key.is_(None))
                                .values(pay_key=key, paid_at=self.clock())).rowcount
            return PayResult(True) if done == 1 else PayResult(False, "already_paid")

        return write(self.engine, work)
