"""Golf tee sheets: courses and tee-time bookings, one live booking per tee time.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('held', 'booked')")


def upgrade() -> None:
    op.create_table(
        "golf_course",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name_en", sa.String(64), nullable=False),
        sa.Column("name_zh", sa.String(32), nullable=False),
        sa.Column("weekday_fee_fen", sa.Integer, nullable=False),
        sa.Column("weekend_fee_fen", sa.Integer, nullable=False),
    )
    op.create_table(
        "tee_booking",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(12), nullable=False, unique=True),
        sa.Column("idem_key", sa.String(96), nullable=False, unique=True),
        sa.Column("course_id", sa.Integer, sa.ForeignKey("golf_course.id"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("players", sa.Integer, nullable=False),
        sa.Column("amount_fen", sa.Integer, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("pay", sa.String(8), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("one_live_booking_per_tee_time", "tee_booking", ["course_id", "day", "slot"], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    op.drop_table("tee_booking")
    op.drop_table("golf_course")
