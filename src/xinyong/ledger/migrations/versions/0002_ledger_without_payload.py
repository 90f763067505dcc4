"""ledger entries keep hashes only: the payload is re-derived from the fact row; records
lose an index nothing reads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:00:00

The payload duplicated every fact in the ledger table, doubling what an ingest writes. The
leaf hash commits to the payload just as well, and verify re-derives it from the fact row.
The index on records.ingest cost every insert and served no query (the ledger says which
file wrote what).
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain DROP COLUMN (SQLite ≥ 3.35): a batch copy would trip the append-only triggers
    op.execute("ALTER TABLE ledger DROP COLUMN payload")
    op.drop_index("ix_records_ingest", table_name="records")


def downgrade() -> None:
    raise NotImplementedError("the payload column cannot be restored: it was derived data; "
                              "restore from a backup taken before 0002")
