"""Traffic police: vehicles, bindings to phone numbers, violations paid once.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "police_vehicle",
        sa.Column("plate", sa.String(10), primary_key=True),
        sa.Column("vin_last6", sa.String(6), nullable=False),
        sa.Column("inspection_due", sa.Date, nullable=False),
    )
    op.create_table(
        "police_binding",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("plate", sa.String(10), sa.ForeignKey("police_vehicle.plate"), nullable=False),
        sa.UniqueConstraint("msisdn", "plate"),
    )
    op.create_table(
        "police_violation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("plate", sa.String(10), sa.ForeignKey("police_vehicle.plate"), nullable=False, index=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("place_en", sa.String(64), nullable=False),
        sa.Column("place_zh", sa.String(32), nullable=False),
        sa.Column("offence_en", sa.String(64), nullable=False),
        sa.Column("offence_zh", sa.String(32), nullable=False),
        sa.Column("fine_fen", sa.Integer, nullable=False),
        sa.Column("demerit", sa.Integer, nullable=False),
        sa.Column("pay_key", sa.String(96), unique=True),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    for table in ("police_violation", "police_binding", "police_vehicle"):
        op.drop_table(table)
