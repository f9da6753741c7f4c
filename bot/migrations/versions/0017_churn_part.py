"""The parts of a week's value-loss scoring: msisdn ranges run as separate RQ jobs, each done once.

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "churn_part",
        sa.Column("week", sa.String(8), primary_key=True),  # ISO week, "2026-W49"
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),  # the scoring month
        sa.Column("lo", sa.String(16), nullable=False),  # from this number on
        sa.Column("hi", sa.String(16), nullable=True),  # up to, not including; NULL: no upper bound
        sa.Column("state", sa.String(8), nullable=False),  # queued, running, done
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscribers", sa.Integer, nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("churn_part")
