"""Tables (sqlmodel): subscribers, the USSD gateway's end-of-session reports, the SMS and Telegram inboxes
and the links between Telegram users and subscribers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from jobs.tables import DlrParked, OptOut, Outbox, TelegramOutbox  # noqa: F401  (outbound tables live with their jobs)
from jobs.audit import AuditLog  # noqa: F401  (the audit log lives with the jobs that write it too)
from bot.admin.tables import Agent, AgentToken, IdempotencyKey  # noqa: F401  (the admin API's own)
from jobs.campaign_tables import Campaign, CampaignMember  # noqa: F401  (care campaigns, with their jobs)


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


class TelegramInbox(SQLModel, table=True):
    """Every Telegram update, stored before the webhook (or the poller) acknowledges it: a redelivery hits
    the unique key. `kind` says what the user did; a chat user becomes a subscriber only through a link."""

    __tablename__ = "telegram_inbox"
    __table_args__ = (UniqueConstraint("bot", "update_id"),)

    id: int | None = Field(default=None, primary_key=True)
    bot: str = Field(max_length=64)  # the bot's id (the token's number part): one table serves several bots
    update_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    user_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(max_length=12)  # text, command, contact, press, other
    text: str = Field(default="", max_length=4096)  # typed text, or the command with its argument
    data: str = Field(default="", max_length=64)  # a press: the button's callback_data
    callback_id: str = Field(default="", max_length=64)  # a press: to answer (answerCallbackQuery)
    message_id: int | None = None  # a press: the message it was on (edited in place by the reply)
    contact_phone: str = Field(default="", max_length=32)  # a shared contact: the number as Telegram sent it
    contact_user_id: int | None = Field(default=None, sa_column=Column(BigInteger))  # whose contact it is
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    processed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class TelegramLink(SQLModel, table=True):
    """Which Telegram user is which subscriber: one user per subscriber at a time. Made by a contact the
    user shared of their own number; `active` is false once the user blocked the bot; `notify`: the user chose
    to get confirmations and reminders in the chat instead of by SMS (`/notify`)."""

    __tablename__ = "telegram_link"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    msisdn: str = Field(max_length=16, unique=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    active: bool = True
    notify: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    linked_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    update_id: int = Field(sa_column=Column(BigInteger, nullable=False))  # the update that made the link


class TelegramLinkEvent(SQLModel, table=True):
    """The history of links: linked, moved (the subscriber's link went to another user), unlinked, blocked,
    unblocked; with the update that caused it."""

    __tablename__ = "telegram_link_event"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    msisdn: str = Field(max_length=16, index=True)
    event: str = Field(max_length=12)
    update_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
