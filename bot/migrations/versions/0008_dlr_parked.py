"""Delivery reports that arrive before their message id is recorded wait here.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dlr_parked",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("gateway_message_id", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dlr_parked")
