"""The simulated tee sheets' tables: the database allows one live booking per tee time."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, text
from sqlmodel import Field, SQLModel

LIVE = text("status IN ('held', 'booked')")


class GolfCourse(SQLModel, table=True):
    __tablename__ = "golf_course"

    id: int = Field(primary_key=True)
    name_en: str = Field(max_length=64)
    name_zh: str = Field(max_length=32)
    weekday_fee_fen: int
    weekend_fee_fen: int


class TeeBooking(SQLModel, table=True):
    """A hold while the subscriber confirms, then a booking; a partial unique index makes a tee time
    takeable once, whatever the code does."""

    __tablename__ = "tee_booking"
    __table_args__ = (Index("one_live_booking_per_tee_time", "course_id", "day", "slot", unique=True,
                            sqlite_where=LIVE, postgresql_where=LIVE),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True)  # G + 9 hex digits
    idem_key: str = Field(max_length=96, unique=True)
    course_id: int = Field(foreign_key="golf_course.id")
    day: date
    slot: int
    msisdn: str = Field(max_length=16, index=True)
    players: int
    amount_fen: int = 0
    points: int = 0
    pay: str = Field(default="", max_length=8)
    status: str = Field(max_length=10)
    hold_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
