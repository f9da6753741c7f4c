"""SMS inbox: inbound messages recorded before they are acknowledged, once per gateway message id.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_inbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("gateway", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("short_code", sa.String(16), nullable=False),
        sa.Column("text", sa.String(1600), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("gateway", "message_id"),
    )


def downgrade() -> None:
    op.drop_table("sms_inbox")
