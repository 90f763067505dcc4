"""due process: notices served, cases (objections, repair applications, human reviews) and
their events, all append-only

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:00:00

The notices table of 0001 was never written to; it is replaced by one that also records the
recipient, the kind (listing or correction) and the entry.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_notices_subject", table_name="notices")
    op.drop_table("notices")
    op.create_table(
        "notices",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(160), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("list", sa.String(120), nullable=False),
        sa.Column("entry", sa.String(200), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("served", sa.Date(), nullable=False),
        sa.Column("grace_ends", sa.Date()),
        sa.Column("legal_basis", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_notices_recipient", "notices", ["recipient"])
    op.create_index("ix_notices_subject", "notices", ["subject"])
    op.create_table(
        "cases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("filed_by", sa.String(160), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date()),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_cases_subject", "cases", ["subject"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case", sa.String(40), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_case_events_case", "case_events", ["case"])
    for table in ("notices", "cases", "case_events"):
        append_only(table)


def append_only(table: str) -> None:
    """As in 0001: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )
    else:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION xinyong_append_only()"
        )


def downgrade() -> None:
    raise NotImplementedError("due-process history is never dropped; restore a backup")
