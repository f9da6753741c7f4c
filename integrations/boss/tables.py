"""The simulated BOSS's own tables: accounts, the append-only points ledger, bill charges, and what the care
reminders read: monthly bills, the prepaid balance's change log, the roaming feed and tariffs."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, DateTime, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


ACTIVE = text("status = 'active'")


class BossAccount(SQLModel, table=True):
    __tablename__ = "boss_account"
    __table_args__ = (CheckConstraint("points >= 0", name="points_not_negative"),)

    msisdn: str = Field(primary_key=True, max_length=16)
    points: int = 0
    balance_fen: int = 0
    bill_fen: int = 0
    birthday: date | None = None  # day of birth, when the subscriber gave it


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
    until: date = Field(index=True)  # packages ending on a day, for the reminder
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


class BossBill(SQLModel, table=True):
    """A monthly statement, one per subscriber and period; the indexes serve a day's reads in keyset order."""

    __tablename__ = "boss_bill"
    __table_args__ = (UniqueConstraint("msisdn", "period", name="one_bill_per_period"),
                      Index("ix_boss_bill_issued", "issued_on", "msisdn", "period"),
                      Index("ix_boss_bill_due", "due_on", "msisdn", "period"))

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16)
    period: str = Field(max_length=7)  # the month it covers, "2026-11"
    amount_fen: int
    paid_fen: int = 0
    issued_on: date
    due_on: date


class BalanceChange(SQLModel, table=True):
    """Every value the prepaid balance took, when: a low-balance crossing is read from it."""

    __tablename__ = "boss_balance_log"
    __table_args__ = (Index("ix_boss_balance_log_msisdn_at", "msisdn", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16)
    balance_fen: int
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RoamingRegistration(SQLModel, table=True):
    """The roaming feed: a subscriber registered on a network abroad; read in id order."""

    __tablename__ = "boss_roaming_event"

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16)
    country: str = Field(max_length=2)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RoamingPrice(SQLModel, table=True):
    __tablename__ = "boss_roaming_tariff"

    country: str = Field(primary_key=True, max_length=2)
    day_fen: int
    data_mb: int


class BossUsage(SQLModel, table=True):
    """A subscriber's usage in one month ("2026-11"), as the BOSS's monthly summary holds it: what the
    value-loss (churn) model reads. Keyed (msisdn, month): the order the reads page in."""

    __tablename__ = "boss_usage"
    __table_args__ = {"sqlite_with_rowid": False}  # stored in key order: a page is one sequential read

    msisdn: str = Field(primary_key=True, max_length=16)
    month: str = Field(primary_key=True, max_length=7)
    arpu_fen: int  # spend in the month
    voice_min: int
    data_mb: int
    sms: int
    topup_fen: int
    active_days: int  # days with any chargeable use
    calls: int
    offnet_calls: int  # calls to other operators' numbers
    complaints: int
    arrears_days: int  # days in the month the account was in arrears
    tenure_months: int  # months since the line was opened, at the month's end


class UsageLabel(SQLModel, table=True):
    """What happened after a scoring month: `lost` when the subscriber's value kept falling over that month
    and the next (the operator's definition). Only the simulation has these, to train and judge the model."""

    __tablename__ = "boss_usage_label"

    msisdn: str = Field(primary_key=True, max_length=16)
    month: str = Field(primary_key=True, max_length=7)  # the scoring month
    lost: bool
