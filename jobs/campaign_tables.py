"""Tables of care campaigns: the campaign (its spec as JSON, its state, who moved it and when, its counts and
how far its run got) and its members (the audience fixed at preview, control group included), so an approver
approves exactly the people who will be written to, and the report compares them with their control."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text
from sqlmodel import Field, SQLModel


def _moment(nullable: bool = True):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class Campaign(SQLModel, table=True):
    """One campaign; `state` moves draft -> previewed -> approved -> scheduled/running -> paused ->
    cancelled/done (jobs/campaigns.py), each move a conditional update with its audit row."""

    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    spec: str = Field(sa_column=Column(Text, nullable=False))  # CampaignSpec as JSON
    state: str = Field(max_length=12, index=True)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    previewed_at: datetime | None = _moment()
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = _moment()
    launched_by: str | None = Field(default=None, max_length=64)
    launched_at: datetime | None = _moment()
    start_at: datetime | None = _moment()  # when the run begins: the spec's start_at, or the launch
    paused_at: datetime | None = _moment()
    cancelled_at: datetime | None = _moment()
    finished_at: datetime | None = _moment()  # every member's message written
    week: str = Field(default="", max_length=8)  # the churn week the audience was chosen from
    audience: int = 0  # members, control included
    control: int = 0  # members held back: they get nothing
    suppressed: int = 0  # matched but opted out at preview: not members
    written: int = 0  # messages written to the outboxes by the run
    not_due: int = 0  # a kind's campaign: members (not control) for whom the kind was not due; nothing written
    cursor: str = Field(default="", max_length=16)  # the last member (by number) the run has written
    run_until: datetime | None = _moment()  # a run is going (or queued) until then; the re-scan waits for it


class CampaignMember(SQLModel, table=True):
    """A member of a campaign's audience, chosen at preview: in the control group or not, and their churn
    zone then (the report's baseline). The message itself is the outbox row with cause `cmp:{id}:{msisdn}`."""

    __tablename__ = "campaign_member"
    __table_args__ = {"sqlite_with_rowid": False}  # stored in key order: the run reads it in pages

    campaign_id: int = Field(primary_key=True)
    msisdn: str = Field(primary_key=True, max_length=16)
    control: bool
    zone: str = Field(default="", max_length=8)
