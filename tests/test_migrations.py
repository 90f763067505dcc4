"""The migrations build exactly the schema the code declares (tables.py), on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from xinyong.ledger.store import Ledger
from xinyong.ledger.tables import metadata


def test_migrations_match_the_declared_tables(ledger_url: str) -> None:
    led = Ledger.open(ledger_url)
    try:
        with led.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        led.dispose()
    assert diff == []
