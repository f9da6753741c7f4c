"""Hospital registration: hospitals, departments, doctors by title, numbered appointments per half-day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterator, Protocol

HALVES = ("am", "pm")
DAYS_AHEAD = 7


@dataclass(frozen=True)
class Place:
    """A hospital or a department: an id and its name in both languages."""

    id: int
    name_en: str
    name_zh: str


@dataclass(frozen=True)
class Doctor:
    id: int
    department_id: int
    name_en: str
    name_zh: str
    title: str  # chief, associate, attending
    fee_fen: int
    quota: int  # numbered appointments per half-day


@dataclass(frozen=True)
class Appointment:
    code: str
    doctor_id: int
    day: date
    half: str
    number: int
    patient: str
    id_tail: str  # last 4 characters of the resident ID: the full number is never shown again
    fee_fen: int
    status: str  # held, booked, cancelled, expired


@dataclass(frozen=True)
class HoldResult:
    ok: bool
    number: int = 0
    reason: str = ""  # full


class Registration(Protocol):
    def hospitals(self) -> list[Place]: ...

    def departments(self, hospital_id: int) -> list[Place]: ...

    def doctors(self, department_id: int) -> list[Doctor]: ...

    def doctor(self, doctor_id: int) -> Doctor | None: ...

    def remaining(self, doctor_id: int, day: date, half: str) -> int: ...

    def hold(self, doctor_id: int, day: date, half: str, msisdn: str, key: str, until: datetime) -> HoldResult: ...

    def confirm(self, key: str, patient: str, resident_id: str) -> Appointment | None: ...

    def release(self, key: str, final: bool = False) -> None: ...

    def stale_holds(self, before: datetime) -> list[tuple[str, str]]: ...  # (key, msisdn)

    def appointments(self, msisdn: str, since: date) -> list[Appointment]: ...

    def appointment(self, code: str, msisdn: str) -> Appointment | None: ...

    def cancel(self, code: str, msisdn: str) -> Appointment | None: ...

    def appointments_on(self, day: date) -> Iterator[tuple[str, Appointment]]: ...  # (msisdn, booked), for reminders

    def location(self, doctor_id: int) -> tuple[Place, Place] | None: ...  # the doctor's (hospital, department)
