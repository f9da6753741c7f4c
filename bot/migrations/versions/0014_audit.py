"""The append-only audit log of care agents' changes (who, when, what, from where): the database itself
refuses an UPDATE or DELETE of a row, so no interface can rewrite it.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

REFUSE_SQLITE = """CREATE TRIGGER audit_log_{what}_refused BEFORE {WHAT} ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""
REFUSE_PG_FUNCTION = """CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"""
REFUSE_PG = """CREATE TRIGGER audit_log_refused BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),  # the agent's name, or "system"
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),  # "campaign.approve", "agent.add", ...
        sa.Column("target", sa.String(96), nullable=False),  # "campaign:12", "agent:li.na", "+86138****0001"
        sa.Column("source", sa.String(64), nullable=False),  # "http 10.0.0.7", "cli", "job"
        sa.Column("detail", sa.String(2000), nullable=False),  # JSON
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE_PG_FUNCTION)
        op.execute(REFUSE_PG)
    else:
        for what in ("update", "delete"):
            op.execute(REFUSE_SQLITE.format(what=what, WHAT=what.upper()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_refused ON audit_log")
        op.execute("DROP FUNCTION audit_log_refuse()")
    op.drop_index("ix_audit_log_target", "audit_log")
    op.drop_table("audit_log")
