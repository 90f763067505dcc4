"""The ledger as a batch source: one consistent snapshot (a single read transaction,
REPEATABLE READ on PostgreSQL, one SQLite read transaction) exported in chunks into temporary
Parquet files with the population's schemas, then read by the engine like a population folder.

Exported: subjects (with their identifiers, merged in id order), links recorded by known-at
(as ``engine.facts.known_inputs`` keeps them), every record and record event (the plan keeps
those known by known-at), and ``confirmed(key)``: the entries a reviewer confirmed by
known-at (due process), as the ledger's ``due_facts`` reads them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from xinyong.batch.sources import TABLES, BadSource, Inputs, Location, schema_of

CHUNK = 50_000
"""Rows per fetch and per Parquet row group: memory stays bounded by one chunk."""


def safe_url(url: str) -> str:
    """The URL without its password (it goes into messages and the manifest)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _amounts(value: Any) -> str:
    if isinstance(value, str):
        value = json.loads(value)
    return json.dumps({k: str(v) for k, v in (value or {}).items()}, ensure_ascii=False)


def _opt_ins(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = json.loads(value)
    return [{"programme": p, "since": date.fromisoformat(d)} for p, d in value or ()]


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
    from xinyong.ledger import tables as t
    from xinyong.ledger.cases import load
    from xinyong.ledger.connection import Connected

    shown = safe_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise BadSource(f"--database {shown}: no such file; ingest records first "
                            "(`xinyong ingest`)")
    try:
        engine = create_engine(url, future=True)
    except Exception as e:  # bad URL, missing driver
        raise BadSource(f"--database {shown}: cannot open ({e})") from None
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    counts: dict[str, int] = {}
    try:
        options: dict[str, Any] = {"yield_per": CHUNK}
        if engine.dialect.name == "postgresql":
            options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as conn, conn.begin():

            def chunks(query: Any, row: Callable[[Any], dict[str, Any]]
                       ) -> Iterator[list[dict[str, Any]]]:
                for part in conn.execute(query).partitions(CHUNK):
                    yield [row(r) for r in part]

            def step(name: str) -> None:
                if progress is not None:
                    progress(name)

            step("subjects")
            counts["subjects"] = _write(folder / "subjects.parquet", "subjects",
                                        _subjects(conn, t))
            step("links")
            counts["links"] = _write(folder / "links.parquet", "links", chunks(
                select(t.links).where(t.links.c.recorded_at <= known_at).order_by(t.links.c.id),
                lambda r: {"organisation": r.organisation, "party": r.party, "role": r.role,
                           "start": r.start, "end": r.end}))
            step("records")
            counts["records"] = _write(folder / "records.parquet", "records", chunks(
                select(t.records).order_by(t.records.c.id),
                lambda r: {"id": r.id, "subject": r.subject, "category": r.category,
                           "agency": r.agency, "act_date": r.act_date, "effective": r.effective,
                           "document_no": r.document_no, "legal_basis": r.legal_basis,
                           "recorded_at": r.recorded_at, "amounts": _amounts(r.amounts),
                           "channel": r.channel}))
            step("events")
            counts["events"] = _write(folder / "events.parquet", "events", chunks(
                select(t.record_events).order_by(t.record_events.c.id),
                lambda r: {"id": r.id, "record": r.record, "kind": r.kind,
                           "effective": r.effective, "recorded_at": r.recorded_at,
                           "note": r.note, "amounts": _amounts(r.amounts)}))
            step("confirmed")
            confirmed = sorted({c.target for c in load(Connected(engine), kind="review",
                                                         known_at=known_at, conn=conn)
                                if c.status == "confirmed"})
            counts["confirmed"] = _write(folder / "confirmed.parquet", "confirmed",
                                         iter([[{"key": k} for k in confirmed]]))
    except SQLAlchemyError as e:
        msg = str(getattr(e, "orig", e)).strip().splitlines()[0]
        raise BadSource(f"--database {shown}: cannot read the ledger ({msg}); is it a "
                        "xinyong ledger (`xinyong ledger init`)?") from None
    finally:
        engine.dispose()
    tables = {n: Location(folder / f"{n}.parquet") for n in (*TABLES, "confirmed")}
    table_names = {"subjects": "subjects", "links": "links", "records": "records",
                   "events": "record_events", "confirmed": "cases (review, confirmed)"}
    where = {n: f"ledger {shown} table {table_names[n]}" for n in tables}
    return Inputs(tables, "ledger", {"kind": "ledger", "database": shown,
                                     "dialect": engine.dialect.name,
                                     "isolation": "REPEATABLE READ" if engine.dialect.name
                                     == "postgresql" else "one read transaction",
                                     "known_at": known_at.isoformat(), "counts": counts}, where)


def _sqlite_transactions(engine: Any) -> None:
    """SQLite reads in one transaction: the driver's own transaction handling begins none for
    a SELECT, so every read would see the database as it is then. BEGIN issued here holds one
    snapshot (WAL) or a shared lock (rollback journal) until the export ends."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=60000")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def _subjects(conn: Any, t: Any) -> Iterator[list[dict[str, Any]]]:
    """Subjects in id order, each with its identifiers (read for 500 subjects at a time, as
    ``ledger.reads`` does: an IN-list SQLite binds)."""
    for part in conn.execute(select(t.subjects).order_by(t.subjects.c.id)).partitions(CHUNK):
        ids = [s.id for s in part]
        idents: dict[str, list[dict[str, str]]] = {}
        for i in range(0, len(ids), 500):
            for r in conn.execute(select(t.identifiers).where(
                    t.identifiers.c.subject.in_(ids[i:i + 500]))
                    .order_by(t.identifiers.c.scheme, t.identifiers.c.value)):
                idents.setdefault(r.subject, []).append({"scheme": r.scheme, "value": r.value})
        yield [{"id": s.id, "kind": s.kind, "name": s.name, "region": s.region,
                "identifiers": idents.get(s.id, []), "registered": s.registered,
                "opt_ins": _opt_ins(s.opt_ins)} for s in part]
