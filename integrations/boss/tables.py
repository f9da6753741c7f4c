"""The simulated BOSS's own tables: accounts, the append-only points ledger, bill charges."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, DateTime, Index, text
from sqlmodel import Field, SQLModel


ACTIVE = text("status = 'active'")


class BossAccount(SQLModel, table=True):
    __tablename__ = "boss_account"
    __table_args__ = (CheckConstraint("points >= 0", name="points_not_negative"),)

    msisdn: str = Field(primary_key=True, max_length=16)
    points: int = 0
    balance_fen: int = 0
    bill_fen: int = 0


class PointsEntry(SQLModel, table=True):
    """Append-only: the balance is the sum of the entries; `idem_key` makes each operation count once."""

    __tablename__ = "points_entry"

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16, index=True)
    delta: int
    kind: str = Field(max_length=16)
    ref: str = Field(default="", max_length=64)
    idem_key: str = Field(max_length=96, unique=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class BossSubscription(SQLModel, table=True):
    """A service package; the partial unique index allows one active subscription per package."""

    __tablename__ = "boss_subscription"
    __table_args__ = (Index("one_active_package", "msisdn", "package", unique=True,
                            sqlite_where=ACTIVE, postgresql_where=ACTIVE),)

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16, index=True)
    package: str = Field(max_length=16)
    price_fen: int
    points: int
    pay: str = Field(max_length=8)
    status: str = Field(max_length=10)
    until: date
    idem_key: str = Field(max_length=96, unique=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class BillCharge(SQLModel, table=True):
    __tablename__ = "bill_charge"

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16, index=True)
    amount_fen: int
    description: str = Field(max_length=64)
    idem_key: str = Field(max_length=96, unique=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
