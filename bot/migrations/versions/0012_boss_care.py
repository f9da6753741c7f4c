"""What the care reminders read from the simulated BOSS: birthdays on the account, monthly bills (issued and
due dates, amount, paid), the prepaid balance's change log (for crossings), the roaming feed and tariffs,
and an index for the packages that end on a day. Suspensions are derived from unpaid bills.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("boss_account") as batch:
        batch.add_column(sa.Column("birthday", sa.Date))
    op.create_index("ix_boss_subscription_until", "boss_subscription", ["until"])
    op.create_table(
        "boss_bill",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),  # the month it covers, "2026-11"
        sa.Column("amount_fen", sa.Integer, nullable=False),
        sa.Column("paid_fen", sa.Integer, nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.UniqueConstraint("msisdn", "period", name="one_bill_per_period"),
    )
    op.create_index("ix_boss_bill_issued", "boss_bill", ["issued_on", "msisdn", "period"])  # a day's bills, keyset order
    op.create_index("ix_boss_bill_due", "boss_bill", ["due_on", "msisdn", "period"])
    op.create_table(
        "boss_balance_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False),
        sa.Column("balance_fen", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_boss_balance_log_msisdn_at", "boss_balance_log", ["msisdn", "at"])
    op.create_table(
        "boss_roaming_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "boss_roaming_tariff",
        sa.Column("country", sa.String(2), primary_key=True),
        sa.Column("day_fen", sa.Integer, nullable=False),
        sa.Column("data_mb", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("boss_roaming_tariff", "boss_roaming_event", "boss_balance_log", "boss_bill"):
        op.drop_table(table)
    op.drop_index("ix_boss_subscription_until", "boss_subscription")
    with op.batch_alter_table("boss_account") as batch:
        batch.drop_column("birthday")
