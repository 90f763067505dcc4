"""The ledger as a batch source: the ledger's one consistent snapshot
(``ledger.export.snapshot``) written in chunks into temporary Parquet files with the
population's schemas, then read by the engine like a population folder, with ``confirmed(key)``
beside them: the entries a reviewer confirmed by known-at (due process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from xinyong.batch.sources import TABLES, BadSource, Inputs, Location, schema_of
from xinyong.ledger.export import snapshot

CHUNK = 50_000
"""Rows per fetch and per Parquet row group: memory stays bounded by one chunk."""


def safe_url(url: str) -> str:
    """The URL without its password (it goes into messages and the manifest)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _write(path: Path, table: str, chunks: Iterator[list[dict[str, Any]]]) -> int:
    schema = schema_of(table)
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        for rows in chunks:
            if rows:
                w.write_table(pa.Table.from_pylist(rows, schema=schema))
                n += len(rows)
    return n


def export(url: str, known_at: datetime, folder: Path,
           progress: Callable[[str], None] | None = None) -> Inputs:
    """Export the ledger at ``url`` into ``folder`` in one read transaction."""
    shown = safe_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise BadSource(f"--database {shown}: no such file; ingest records first "
                            "(`xinyong ingest`)")
    counts: dict[str, int] = {}

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    try:
        with snapshot(url, known_at, CHUNK) as snap:
            for name, chunks in (("subjects", snap.subjects), ("links", snap.links),
                                 ("records", snap.records), ("events", snap.events)):
                step(name)
                counts[name] = _write(folder / f"{name}.parquet", name, chunks())
            step("confirmed")
            counts["confirmed"] = _write(folder / "confirmed.parquet", "confirmed",
                                         iter([[{"key": k} for k in snap.confirmed()]]))
            dialect, isolation = snap.dialect, snap.isolation
    except (ArgumentError, NoSuchModuleError, ImportError) as e:  # a bad URL, no driver
        raise BadSource(f"--database {shown}: cannot open ({e})") from None
    except SQLAlchemyError as e:
        msg = str(getattr(e, "orig", e)).strip().splitlines()[0]
        raise BadSource(f"--database {shown}: cannot read the ledger ({msg}); is it a "
                        "xinyong ledger (`xinyong ledger init`)?") from None
    tables = {n: Location(folder / f"{n}.parquet") for n in (*TABLES, "confirmed")}
    table_names = {"subjects": "subjects", "links": "links", "records": "records",
                   "events": "record_events", "confirmed": "cases (review, confirmed)"}
    where = {n: f"ledger {shown} table {table_names[n]}" for n in tables}
    return Inputs(tables, "ledger", {"kind": "ledger", "database": shown, "dialect": dialect,
                                     "isolation": isolation, "known_at": known_at.isoformat(),
                                     "counts": counts}, where)
