"""What the value-loss (churn) model reads from the simulated BOSS: monthly usage per subscriber and, for
training and evaluation, the label of who went on to lose value; and the weekly zones the scoring keeps.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

USAGE = ("arpu_fen", "voice_min", "data_mb", "sms", "topup_fen", "active_days", "calls", "offnet_calls",
         "complaints", "arrears_days", "tenure_months")


def upgrade() -> None:
    op.create_table(
        "boss_usage",
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),  # "2026-11"
        *(sa.Column(name, sa.Integer, nullable=False) for name in USAGE),
        sqlite_with_rowid=False,  # rows stored in key order: a page of subscribers is one sequential read
    )
    op.create_table(
        "boss_usage_label",
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),  # the scoring month
        sa.Column("lost", sa.Boolean, nullable=False),
    )
    op.create_table(
        "churn_score",
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("week", sa.String(8), primary_key=True),  # ISO week, "2026-W49"
        sa.Column("zone", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reasons", sa.String(400), nullable=False),  # the tree path: "spend_change_pct=-42;offnet_pct=35"
    )
    op.create_index("ix_churn_score_week_zone", "churn_score", ["week", "zone"])


def downgrade() -> None:
    op.drop_index("ix_churn_score_week_zone", "churn_score")
    for table in ("churn_score", "boss_usage_label", "boss_usage"):
        op.drop_table(table)
