"""Subscribers, USSD end-of-session reports, and the simulated BOSS (accounts, points ledger, bill).

Revision ID: 0001
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber",
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(32), nullable=False),
    )
    op.create_table(
        "ussd_session_end",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(128), nullable=False, unique=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("service_code", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("hops", sa.Integer),
        sa.Column("last_input", sa.String(512), nullable=False),
        sa.Column("error_message", sa.String(512), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "boss_account",
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("balance_fen", sa.Integer, nullable=False),
        sa.Column("bill_fen", sa.Integer, nullable=False),
        sa.CheckConstraint("points >= 0", name="points_not_negative"),
    )
    op.create_table(
        "points_entry",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("idem_key", sa.String(96), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bill_charge",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("amount_fen", sa.Integer, nullable=False),
        sa.Column("description", sa.String(64), nullable=False),
        sa.Column("idem_key", sa.String(96), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("bill_charge", "points_entry", "boss_account", "ussd_session_end", "subscriber"):
        op.drop_table(table)
