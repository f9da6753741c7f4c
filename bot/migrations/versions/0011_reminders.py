"""Reminders: what kind and cap class each outbound row is (the gate at send time reads them), the runs of
reminder kinds (one per kind and period), the frequency-cap counters, and the reminder a reply continues.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    for name in ("outbox", "telegram_outbox"):
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("topic", sa.String(32), nullable=False, server_default=""))
            batch.add_column(sa.Column("cap_class", sa.String(16), nullable=False, server_default=""))
    op.create_table(
        "reminder_run",
        sa.Column("key", sa.String(64), primary_key=True),  # kind:period, e.g. bill-ready:2026-12
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("selected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("queued", sa.Integer, nullable=False, server_default="0"),
        sa.Column("suppressed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("deferred", sa.Integer, nullable=False, server_default="0"),
        sa.Column("capped", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "send_cap",
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("cap_class", sa.String(16), primary_key=True),
        sa.Column("window", sa.String(16), primary_key=True),  # d:2026-12-02 or w:2026-W49, subscriber's zone
        sa.Column("sent", sa.Integer, nullable=False),
    )
    op.create_table(
        "reminder_goto",
        sa.Column("msisdn", sa.String(16), primary_key=True),  # the latest reminder a reply may continue
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("goto", sa.String(64), nullable=False),  # the flow state a reply continues
        sa.Column("params", sa.String(1024), nullable=False, server_default="{}"),  # JSON: the values it read
        sa.Column("cause", sa.String(96), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reminder_goto")
    op.drop_table("send_cap")
    op.drop_table("reminder_run")
    for name in ("outbox", "telegram_outbox"):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("cap_class")
            batch.drop_column("topic")
