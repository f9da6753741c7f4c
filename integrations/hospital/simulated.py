"""Simulated hospital registration on our database, with demo hospitals, departments and doctors."""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Callable, Iterator

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from integrations.faults import Faults
from integrations.hospital import Appointment, Doctor, HoldResult, Place
from integrations.hospital.tables import Hospital, HospitalAppointment, HospitalDepartment, HospitalDoctor
from integrations.sqltx import PAGE, pages, utc, utcnow, write

H, DEP, DOC, AP = (Hospital.__table__, HospitalDepartment.__table__, HospitalDoctor.__table__,
                   HospitalAppointment.__table__)
FEES = {"chief": (5_000, 8), "associate": (3_000, 12), "attending": (1_500, 20)}  # fee, quota per half-day

DEMO = (
    (1, "Peking Union Medical College Hospital", "北京协和医院", (
        (11, "Cardiology", "心内科", (("Wang Jianguo", "王建国", "chief"), ("Li Min", "李敏", "attending"))),
        (12, "Gastroenterology", "消化内科", (("Zhao Lei", "赵磊", "associate"), ("Chen Jing", "陈静", "attending"))),
        (13, "Ophthalmology", "眼科", (("Liu Yang", "刘洋", "chief"),)),
    )),
    (2, "Ruijin Hospital Shanghai", "上海瑞金医院", (
        (21, "Endocrinology", "内分泌科", (("Zhou Ping", "周平", "chief"), ("Xu Tao", "徐涛", "associate"))),
        (22, "Orthopedics", "骨科", (("Sun Gang", "孙刚", "attending"),)),
    )),
)


def seed_demo(engine: Engine) -> None:
    doctors, departments, hospitals = [], [], []
    for hid, en, zh, deps in DEMO:
        hospitals.append(dict(id=hid, name_en=en, name_zh=zh))
        for did, den, dzh, docs in deps:
            departments.append(dict(id=did, hospital_id=hid, name_en=den, name_zh=dzh))
            for n, (name_en, name_zh, title) in enumerate(docs):
                fee, quota = FEES[title]
                doctors.append(dict(id=did * 10 + n, department_id=did, name_en=name_en, name_zh=name_zh,
                                    title=title, fee_fen=fee, quota=quota))
    with engine.begin() as conn:
        for table in (AP, DOC, DEP, H):
            conn.execute(delete(table))
        conn.execute(insert(H), hospitals)
        conn.execute(insert(DEP), departments)
        conn.execute(insert(DOC), doctors)


def _code(key: str) -> str:
    return "R" + hashlib.sha256(key.encode()).hexdigest()[:9].upper()


class SimulatedRegistration:
    def __init__(self, engine: Engine, faults: Faults | None = None,
                 clock: Callable[[], datetime] = utcnow, page: int = PAGE) -> None:
        self.engine = engine
        self.faults = faults or Faults()
        self.clock = lambda: utc(clock())
        self.page = page  # rows per keyset page of appointments_on

    def hospitals(self) -> list[Place]:
        return self._places(select(H.c.id, H.c.name_en, H.c.name_zh).order_by(H.c.id))

    def departments(self, hospital_id: int) -> list[Place]:
        return self._places(select(DEP.c.id, DEP.c.name_en, DEP.c.name_zh)
                            .where(DEP.c.hospital_id == hospital_id).order_by(DEP.c.id))

    def doctors(self, department_id: int) -> list[Doctor]:
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            return [Doctor(*r) for r in conn.execute(select(*_DOCTOR).where(DOC.c.department_id == department_id)
                                                     .order_by(DOC.c.id))]

    def doctor(self, doctor_id: int) -> Doctor | None:
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            row = conn.execute(select(*_DOCTOR).where(DOC.c.id == doctor_id)).first()
        return Doctor(*row) if row else None

    def remaining(self, doctor_id: int, day: date, half: str) -> int:
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            return _quota(conn, doctor_id) - len(_taken(conn, doctor_id, day, half, self.clock()))

    def hold(self, doctor_id: int, day: date, half: str, msisdn: str, key: str, until: datetime) -> HoldResult:
        """Take the lowest free number; if another patient takes it first, try the next one."""
        self.faults.check("hospital")
        for _ in range(5):
            try:
                return write(self.engine, lambda conn: self._hold(conn, doctor_id, day, half, msisdn, key, until))
            except IntegrityError:
                if (mine := self._by_key(key)) is not None:
                    return HoldResult(True, mine.number)
        return HoldResult(False, reason="full")

    def _hold(self, conn: Connection, doctor_id: int, day: date, half: str, msisdn: str, key: str,
              until: datetime) -> HoldResult:
        row = conn.execute(select(AP.c.number, AP.c.status).where(AP.c.idem_key == key)).first()
        if row:
            return HoldResult(row.status in ("held", "booked"), row.number, "" if row.status != "expired" else "full")
        now = self.clock()
        conn.execute(update(AP).where(AP.c.doctor_id == doctor_id, AP.c.day == day, AP.c.half == half,
                                      AP.c.status == "held", (AP.c.hold_until < now) | (AP.c.msisdn == msisdn))
                     .values(status="expired"))  # lapsed holds, and this subscriber's own earlier one
        taken = _taken(conn, doctor_id, day, half, now)
        free = [n for n in range(1, _quota(conn, doctor_id) + 1) if n not in taken]
        if not free:
            return HoldResult(False, reason="full")
        fee = conn.execute(select(DOC.c.fee_fen).where(DOC.c.id == doctor_id)).scalar_one()
        conn.execute(insert(AP).values(code=_code(key), idem_key=key, doctor_id=doctor_id, day=day, half=half,
                                       number=free[0], msisdn=msisdn, fee_fen=fee, status="held",
                                       hold_until=utc(until), created_at=now))
        return HoldResult(True, free[0])

    def confirm(self, key: str, patient: str, resident_id: str) -> Appointment | None:
        """Register the held number for the patient; an expired hold is re-taken if still free."""
        self.faults.check("hospital")

        def work(conn: Connection) -> None:
            row = conn.execute(select(AP).where(AP.c.idem_key == key)).first()
            if row is None or row.status not in ("held", "expired"):
                return
            conn.execute(update(AP).where(AP.c.doctor_id == row.doctor_id, AP.c.day == row.day,
                                          AP.c.half == row.half, AP.c.number == row.number, AP.c.status == "held",
                                          AP.c.hold_until < self.clock()).values(status="expired"))
            conn.execute(update(AP).where(AP.c.idem_key == key, AP.c.status.in_(("held", "expired"))).values(
                status="booked", patient=patient, resident_id=resident_id))

        try:
            write(self.engine, work)
        except IntegrityError:
            return None
        found = self._by_key(key)
        return found if found and found.status == "booked" else None

    def release(self, key: str, final: bool = False) -> None:
        """Give a hold back; `final` also forbids confirming it later (its fee was refunded)."""
        self.faults.check("hospital")
        write(self.engine, lambda conn: conn.execute(
            update(AP).where(AP.c.idem_key == key, AP.c.status.in_(("held", "expired")))
            .values(status="lost" if final else "expired")))

    def stale_holds(self, before: datetime) -> list[tuple[str, str]]:
        """Holds that lapsed before `before` and were never registered nor given up."""
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            rows = conn.execute(select(AP).where(AP.c.status.in_(("held", "expired")),
                                                 AP.c.hold_until < utc(before))).all()
        return [(r.idem_key, r.msisdn) for r in rows]

    def appointments(self, msisdn: str, since: date) -> list[Appointment]:
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            rows = conn.execute(select(AP).where(AP.c.msisdn == msisdn, AP.c.status == "booked", AP.c.day >= since)
                                .order_by(AP.c.day, AP.c.half)).all()
        return [_appointment(r) for r in rows]

    def appointment(self, code: str, msisdn: str) -> Appointment | None:
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            row = conn.execute(select(AP).where(AP.c.code == code, AP.c.msisdn == msisdn)).first()
        return _appointment(row) if row else None

    def cancel(self, code: str, msisdn: str) -> Appointment | None:
        self.faults.check("hospital")
        write(self.engine, lambda conn: conn.execute(update(AP).where(
            AP.c.code == code, AP.c.msisdn == msisdn, AP.c.status == "booked").values(status="cancelled")))
        found = self.appointment(code, msisdn)
        return found if found and found.status == "cancelled" else None

    def appointments_on(self, day: date) -> Iterator[tuple[str, Appointment]]:
        """Every booked appointment of a day with the patient's number, in keyset pages (the reminder the
        day before)."""
        self.faults.check("hospital")
        for rows in pages(self.engine, select(AP).where(AP.c.day == day, AP.c.status == "booked"), (AP.c.id,),
                          self.page):
            yield from ((r.msisdn, _appointment(r)) for r in rows)

    def location(self, doctor_id: int) -> tuple[Place, Place] | None:
        """Where a doctor sees patients: the hospital and the department, by name in both languages."""
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            row = conn.execute(select(H.c.id, H.c.name_en, H.c.name_zh, DEP.c.id, DEP.c.name_en, DEP.c.name_zh)
                               .join(DEP, DEP.c.hospital_id == H.c.id).join(DOC, DOC.c.department_id == DEP.c.id)
                               .where(DOC.c.id == doctor_id)).first()
        return (Place(*row[:3]), Place(*row[3:])) if row else None

    def _places(self, query) -> list[Place]:
        self.faults.check("hospital")
        with self.engine.connect() as conn:
            return [Place(*r) for r in conn.execute(query)]

    def _by_key(self, key: str) -> Appointment | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(AP).where(AP.c.idem_key == key)).first()
        return _appointment(row) if row else None


_DOCTOR = (DOC.c.id, DOC.c.department_id, DOC.c.name_en, DOC.c.name_zh, DOC.c.title, DOC.c.fee_fen, DOC.c.quota)


def _quota(conn: Connection, doctor_id: int) -> int:
    return conn.execute(select(DOC.c.quota).where(DOC.c.id == doctor_id)).scalar_one()


def _taken(conn: Connection, doctor_id: int, day: date, half: str, now: datetime) -> set[int]:
    live = (AP.c.status == "booked") | ((AP.c.status == "held") & (AP.c.hold_until >= now))
    return set(conn.execute(select(AP.c.number).where(AP.c.doctor_id == doctor_id, AP.c.day == day,
                                                      AP.c.half == half, live)).scalars())


def _appointment(row) -> Appointment:
    return Appointment(row.code, row.doctor_id, row.day, row.half, row.number, row.patient, row.resident_id[-4:],
                       row.fee_fen, row.status)
