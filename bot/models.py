"""Tables (sqlmodel): subscribers, the USSD gateway's end-of-session reports and the SMS inbox."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from jobs.tables import DlrParked, OptOut, Outbox  # noqa: F401  (outbound tables live with their jobs)


class Subscriber(SQLModel, table=True):
    """One of the operator's subscribers: who they are. Money and points live in the BOSS."""

    msisdn: str = Field(primary_key=True, max_length=16)  # E.164, e.g. +8613800000001
    name: str = Field(max_length=64)
    tier: str = Field(default="regular", max_length=8)  # regular, silver, gold, diamond
    language: str = Field(default="zh_Hans", max_length=8)  # zh_Hans or en
    timezone: str = Field(default="Asia/Shanghai", max_length=32)


class UssdSessionEnd(SQLModel, table=True):
    """The gateway's notification that a USSD session ended; one row per session id."""

    __tablename__ = "ussd_session_end"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=128, unique=True)
    msisdn: str = Field(max_length=16, index=True)
    service_code: str = Field(max_length=32)
    status: str = Field(max_length=32)
    duration_ms: int | None = None
    hops: int | None = None
    last_input: str = Field(default="", max_length=512)
    error_message: str = Field(default="", max_length=512)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SmsInbox(SQLModel, table=True):
    """Every inbound SMS, stored before the gateway gets its 200: a redelivery hits the unique key."""

    __tablename__ = "sms_inbox"
    __table_args__ = (UniqueConstraint("gateway", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    gateway: str = Field(max_length=32)
    message_id: str = Field(max_length=64)
    msisdn: str = Field(max_length=16, index=True)
    short_code: str = Field(max_length=16)
    text: str = Field(max_length=1600)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    processed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
