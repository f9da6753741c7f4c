"""Tables of outbound messaging (sqlmodel): the SMS outbox, the Telegram outbox, delivery reports waiting
for their message, and opt-outs, which are checked at send time."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class Outbox(SQLModel, table=True):
    """Every outbound message, written in the transaction of the change that caused it (`cause` is
    unique: one message per inbound message, per reminder and subscriber, ...)."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16, index=True)
    text: str = Field(max_length=1600)
    cause: str = Field(max_length=96, unique=True)
    kind: str = Field(default="reply", max_length=12)  # reply, confirmation, reminder, marketing
    topic: str = Field(default="", max_length=32)  # a reminder's kind ("bill-ready"), "" for the rest
    cap_class: str = Field(default="", max_length=16)  # the frequency-cap class of a reminder or marketing row
    status: str = Field(default="pending", max_length=10, index=True)  # pending, sending, sent, ... (docs/channels.md)
    attempts: int = 0
    claim: str | None = Field(default=None, max_length=32)
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    gateway_message_id: str | None = Field(default=None, max_length=64, index=True)
    dlr_status: str | None = Field(default=None, max_length=12)
    error: str = Field(default="", max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TelegramOutbox(SQLModel, table=True):
    """Every message to a Telegram chat, written in the transaction of its cause, as the SMS outbox is. A
    row is one Bot API action: a new message, or (`edit_message_id`) the pressed menu edited in place;
    `callback_id` is the press to answer first, `notice` the text of that answer ("this menu has expired")."""

    __tablename__ = "telegram_outbox"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    msisdn: str = Field(default="", max_length=16, index=True)  # the linked subscriber, when there is one
    text: str = Field(default="", max_length=4096)  # empty: only the press is answered
    markup: str = Field(default="", max_length=8192)  # reply_markup as Bot API JSON, or empty
    edit_message_id: int | None = None
    callback_id: str = Field(default="", max_length=64)
    notice: str = Field(default="", max_length=200)
    cause: str = Field(max_length=96, unique=True)
    kind: str = Field(default="reply", max_length=12)  # reply, confirmation, reminder, marketing
    topic: str = Field(default="", max_length=32)  # a reminder's kind ("bill-ready"), "" for the rest
    cap_class: str = Field(default="", max_length=16)  # the frequency-cap class of a reminder or marketing row
    status: str = Field(default="pending", max_length=10, index=True)  # pending, sending, sent, ... (docs/channels.md)
    attempts: int = 0
    claim: str | None = Field(default=None, max_length=32)
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    telegram_message_id: int | None = None  # what Telegram answered: the message sent or edited
    error: str = Field(default="", max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReminderRun(SQLModel, table=True):
    """One run of a reminder kind for one period (`key` = kind:period): repeated, resumed or raced, it is one
    run, and each subscriber's row is unique by cause (kind, period, subscriber). Its counts are reported."""

    __tablename__ = "reminder_run"

    key: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    period: str = Field(max_length=32)
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    selected: int = 0
    queued: int = 0
    suppressed: int = 0
    deferred: int = 0
    capped: int = 0


class SendCap(SQLModel, table=True):
    """Frequency-cap counters: reminders sent to a subscriber in a class and window (a day or an ISO week
    in the subscriber's time zone), raised by a conditional update so racing workers cannot pass the cap."""

    __tablename__ = "send_cap"

    msisdn: str = Field(primary_key=True, max_length=16)
    cap_class: str = Field(primary_key=True, max_length=16)
    window: str = Field(primary_key=True, max_length=16)
    sent: int


class ReminderGoto(SQLModel, table=True):
    """The latest reminder a subscriber's reply may continue ("reply 1 to top up"): its flow state and the
    values it read, until `expires_at`."""

    __tablename__ = "reminder_goto"

    msisdn: str = Field(primary_key=True, max_length=16)
    kind: str = Field(max_length=32)
    goto: str = Field(max_length=64)
    params: str = Field(default="{}", max_length=1024)
    cause: str = Field(max_length=96)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class DlrParked(SQLModel, table=True):
    """A delivery report for a message id we have not recorded yet; applied when the id is recorded."""

    __tablename__ = "dlr_parked"

    id: int | None = Field(default=None, primary_key=True)
    gateway_message_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=12)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OptOut(SQLModel, table=True):
    """Who opted out of reminders and marketing, when, by which channel and with what words."""

    __tablename__ = "opt_out"

    msisdn: str = Field(primary_key=True, max_length=16)
    opted_out: bool
    channel: str = Field(max_length=12)
    text: str = Field(max_length=160)
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ChurnScore(SQLModel, table=True):
    """A subscriber's value-loss zone in one ISO week: every week kept, so an agent sees movement (green ->
    red); the key makes a week's scoring idempotent (a second run replaces, never adds)."""

    __tablename__ = "churn_score"
    __table_args__ = (Index("ix_churn_score_week_zone", "week", "zone"),)

    msisdn: str = Field(primary_key=True, max_length=16)
    week: str = Field(primary_key=True, max_length=8)  # "2026-W49"
    zone: str = Field(max_length=8)  # blue, green, yellow, red, white
    score: float
    reasons: str = Field(max_length=400)  # the tree path: "spend_change_pct=-42;offnet_pct=35"


class ChurnPart(SQLModel, table=True):
    """One msisdn range of a week's scoring, run as an RQ job of its own so every worker scores at once. A
    part is done once (a second run of it writes nothing); one claimed by a worker that died is claimed
    again when its lease runs out; the week is complete when every part is done."""

    __tablename__ = "churn_part"

    week: str = Field(primary_key=True, max_length=8)  # "2026-W49"
    part: int = Field(primary_key=True)
    month: str = Field(max_length=7)  # the scoring month: usage is read from the months before it
    lo: str = Field(max_length=16)  # numbers from this one on ("": the first part)
    hi: str | None = Field(default=None, max_length=16)  # up to, not including, this one (None: the last part)
    state: str = Field(max_length=8)  # queued, running, done
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    subscribers: int | None = None  # scored, once done
    done_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
