"""Care campaigns: the campaign (spec, state, who and when, counts, how far its run got) and its members (the
audience fixed at preview, the control group flagged).

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),  # jobs/campaign_spec.py CampaignSpec as JSON
        sa.Column("state", sa.String(12), nullable=False),  # draft, previewed, approved, scheduled, running, ...
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("previewed_at", TS),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approved_at", TS),
        sa.Column("launched_by", sa.String(64)),
        sa.Column("launched_at", TS),
        sa.Column("start_at", TS),
        sa.Column("paused_at", TS),
        sa.Column("cancelled_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("week", sa.String(8), nullable=False),  # the churn week the audience was chosen from
        sa.Column("audience", sa.Integer, nullable=False),
        sa.Column("control", sa.Integer, nullable=False),
        sa.Column("suppressed", sa.Integer, nullable=False),
        sa.Column("written", sa.Integer, nullable=False),
        sa.Column("cursor", sa.String(16), nullable=False),  # the last member number the run wrote
        sa.Column("run_until", TS),  # a run is going or queued until then; the re-scan leaves it alone
    )
    op.create_index("ix_campaign_state", "campaign", ["state"])
    op.create_table(
        "campaign_member",
        sa.Column("campaign_id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(16), primary_key=True),
        sa.Column("control", sa.Boolean, nullable=False),  # held back: gets nothing, measured all the same
        sa.Column("zone", sa.String(8), nullable=False),  # the churn zone at preview: the report's baseline
        sqlite_with_rowid=False,  # rows stored in key order: the run reads a campaign's members in pages
    )


def downgrade() -> None:
    op.drop_table("campaign_member")
    op.drop_index("ix_campaign_state", "campaign")
    op.drop_table("campaign")
