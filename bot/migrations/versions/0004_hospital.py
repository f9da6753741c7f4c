"""Hospital registration: hospitals, departments, doctors and numbered appointments.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('held', 'booked')")


def _named(name: str, *columns: sa.Column) -> None:
    op.create_table(name, sa.Column("id", sa.Integer, primary_key=True), *columns,
                    sa.Column("name_en", sa.String(64), nullable=False),
                    sa.Column("name_zh", sa.String(32), nullable=False))


def upgrade() -> None:
    _named("hospital")
    _named("hospital_department", sa.Column("hospital_id", sa.Integer, sa.ForeignKey("hospital.id"), nullable=False))
    _named("hospital_doctor",
           sa.Column("department_id", sa.Integer, sa.ForeignKey("hospital_department.id"), nullable=False),
           sa.Column("title", sa.String(12), nullable=False), sa.Column("fee_fen", sa.Integer, nullable=False),
           sa.Column("quota", sa.Integer, nullable=False))
    op.create_table(
        "hospital_appointment",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(12), nullable=False, unique=True),
        sa.Column("idem_key", sa.String(96), nullable=False, unique=True),
        sa.Column("doctor_id", sa.Integer, sa.ForeignKey("hospital_doctor.id"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("half", sa.String(2), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("msisdn", sa.String(16), nullable=False, index=True),
        sa.Column("patient", sa.String(32), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("fee_fen", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("one_live_patient_per_number", "hospital_appointment", ["doctor_id", "day", "half", "number"],
                    unique=True, sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    for table in ("hospital_appointment", "hospital_doctor", "hospital_department", "hospital"):
        op.drop_table(table)
