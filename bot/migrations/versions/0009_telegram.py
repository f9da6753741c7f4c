"""Telegram: the inbox of updates, the links between Telegram users and subscribers (with their history)
and the Telegram outbox.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "telegram_inbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bot", sa.String(64), nullable=False),
        sa.Column("update_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("text", sa.String(4096), nullable=False),
        sa.Column("data", sa.String(64), nullable=False),
        sa.Column("callback_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer),
        sa.Column("contact_phone", sa.String(32), nullable=False),
        sa.Column("contact_user_id", sa.BigInteger),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("processed_at", TS),
        sa.UniqueConstraint("bot", "update_id"),
    )
    op.create_table(
        "telegram_link",
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("msisdn", sa.String(16), nullable=False, unique=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        sa.Column("update_id", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "telegram_link_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("event", sa.String(12), nullable=False),
        sa.Column("update_id", sa.BigInteger),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "telegram_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("text", sa.String(4096), nullable=False),
        sa.Column("markup", sa.String(8192), nullable=False),
        sa.Column("edit_message_id", sa.Integer),
        sa.Column("callback_id", sa.String(64), nullable=False),
        sa.Column("notice", sa.String(200), nullable=False),
        sa.Column("cause", sa.String(96), nullable=False, unique=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claim", sa.String(32)),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_until", TS),
        sa.Column("telegram_message_id", sa.Integer),
        sa.Column("error", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("telegram_outbox", "telegram_link_event", "telegram_link", "telegram_inbox"):
        op.drop_table(table)
