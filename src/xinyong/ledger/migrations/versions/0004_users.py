"""users of the service: a role, the subject or agency acting for, and a hashed token

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(40)),
        sa.Column("agency", sa.String(120)),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("users")
