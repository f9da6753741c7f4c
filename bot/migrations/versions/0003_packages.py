"""Service packages in the simulated BOSS: one active subscription per package and subscriber.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "boss_subscription",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("package", sa.String(16), nullable=False),
        sa.Column("price_fen", sa.Integer, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("pay", sa.String(8), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("until", sa.Date, nullable=False),
        sa.Column("idem_key", sa.String(96), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("one_active_package", "boss_subscription", ["msisdn", "package"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_table("boss_subscription")
