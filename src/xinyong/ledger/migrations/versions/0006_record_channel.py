"""the channel a record came through (model.Channel), and the feed of a queued row

Records written before this revision get "unrecorded": their channel was never recorded and
is not guessed. The ledger payload leaves "unrecorded" out, so their leaf hashes still verify.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("channel", sa.String(20), nullable=False,
                                       server_default="unrecorded"))
    op.add_column("review_queue", sa.Column("feed", sa.String(120)))


def downgrade() -> None:
    op.drop_column("review_queue", "feed")
    op.drop_column("records", "channel")
