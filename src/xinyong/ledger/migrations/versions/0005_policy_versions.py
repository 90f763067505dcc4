"""policy versions loaded through the service: their files, lint findings and activation

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("lint", sa.JSON(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("loaded_by", sa.String(160), nullable=False),
        sa.Column("activated_at", sa.DateTime()),
        sa.Column("activated_by", sa.String(160)),
    )


def downgrade() -> None:
    op.drop_table("policy_versions")
