"""The simulated traffic police's tables: a violation can be paid once, by one payment key."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


class PoliceVehicle(SQLModel, table=True):
    __tablename__ = "police_vehicle"

    plate: str = Field(primary_key=True, max_length=10)
    vin_last6: str = Field(max_length=6)
    inspection_due: date


class PoliceBinding(SQLModel, table=True):
    __tablename__ = "police_binding"
    __table_args__ = (UniqueConstraint("msisdn", "plate"),)

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16, index=True)
    plate: str = Field(max_length=10, foreign_key="police_vehicle.plate")


class PoliceViolation(SQLModel, table=True):
    __tablename__ = "police_violation"

    id: int = Field(primary_key=True)
    plate: str = Field(max_length=10, foreign_key="police_vehicle.plate", index=True)
    day: date
    place_en: str = Field(max_length=64)
    place_zh: str = Field(max_length=32)
    offence_en: str = Field(max_length=64)
    offence_zh: str = Field(max_length=32)
    fine_fen: int
    demerit: int
    pay_key: str | None = Field(default=None, max_length=96, unique=True)
    paid_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
