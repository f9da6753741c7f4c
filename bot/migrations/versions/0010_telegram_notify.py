"""Telegram: a linked subscriber's choice to get confirmations and reminders in the chat instead of by SMS.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_link") as batch:  # batch: SQLite cannot add a NOT NULL column otherwise
        batch.add_column(sa.Column("notify", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("telegram_link") as batch:
        batch.drop_column("notify")
