"""Care agents and their tokens (stored hashed), and the answers kept for Idempotency-Key replays.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),  # viewer, agent, supervisor, admin
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "agent_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent", sa.String(64), sa.ForeignKey("agent.name"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),  # of the token: never the token
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_agent_token_agent", "agent_token", ["agent"])
    op.create_table(
        "idempotency_key",
        sa.Column("agent", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("route", sa.String(96), primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),  # NULL: the first request is still working
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_key")
    op.drop_index("ix_agent_token_agent", "agent_token")
    op.drop_table("agent_token")
    op.drop_table("agent")
