"""The simulated hospitals' tables: an appointment number can be live for one patient only."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, text
from sqlmodel import Field, SQLModel

LIVE = text("status IN ('held', 'booked')")


class Hospital(SQLModel, table=True):
    id: int = Field(primary_key=True)
    name_en: str = Field(max_length=64)
    name_zh: str = Field(max_length=32)


class HospitalDepartment(SQLModel, table=True):
    __tablename__ = "hospital_department"

    id: int = Field(primary_key=True)
    hospital_id: int = Field(foreign_key="hospital.id")
    name_en: str = Field(max_length=64)
    name_zh: str = Field(max_length=32)


class HospitalDoctor(SQLModel, table=True):
    __tablename__ = "hospital_doctor"

    id: int = Field(primary_key=True)
    department_id: int = Field(foreign_key="hospital_department.id")
    name_en: str = Field(max_length=64)
    name_zh: str = Field(max_length=32)
    title: str = Field(max_length=12)
    fee_fen: int
    quota: int


class HospitalAppointment(SQLModel, table=True):
    __tablename__ = "hospital_appointment"
    __table_args__ = (Index("one_live_patient_per_number", "doctor_id", "day", "half", "number", unique=True,
                            sqlite_where=LIVE, postgresql_where=LIVE),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True)
    idem_key: str = Field(max_length=96, unique=True)
    doctor_id: int = Field(foreign_key="hospital_doctor.id")
    day: date
    half: str = Field(max_length=2)
    number: int
    msisdn: str = Field(max_length=16, index=True)
    patient: str = Field(default="", max_length=32)
    resident_id: str = Field(default="", max_length=18)
    fee_fen: int
    status: str = Field(max_length=10)
    hold_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
