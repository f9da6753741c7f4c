"""Outbox: every outbound message, one per cause, claimed by send jobs and retried with backoff;
opt-outs, checked again when a reminder or marketing message is about to leave.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("text", sa.String(1600), nullable=False),
        sa.Column("cause", sa.String(96), nullable=False, unique=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claim", sa.String(32)),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("gateway_message_id", sa.String(64), index=True),
        sa.Column("dlr_status", sa.String(12)),
        sa.Column("error", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


    op.create_table(
        "opt_out",
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("text", sa.String(160), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("opt_out")
    op.drop_table("outbox")
