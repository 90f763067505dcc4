"""The ledger read whole, for whole-population work: one consistent snapshot (a single read
transaction, REPEATABLE READ on PostgreSQL, one SQLite read transaction) handed out in chunks
of rows shaped as a population folder's tables, so that memory stays bounded by one chunk.

Subjects come with their identifiers; links as recorded by known-at (as
``engine.facts.known_inputs`` keeps them); every record and record event (the reader keeps
those known by known-at); and the keys of the entries a reviewer confirmed by known-at, as
``due_facts`` reads them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, create_engine, event, select
from sqlalchemy.engine import Engine

from xinyong.ledger import tables as t
from xinyong.ledger.cases import load
from xinyong.ledger.connection import Connected

Chunks = Iterator[list[dict[str, Any]]]


def _amounts(value: Any) -> str:
    if isinstance(value, str):
        value = json.loads(value)
    return json.dumps({k: str(v) for k, v in (value or {}).items()}, ensure_ascii=False)


def _opt_ins(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = json.loads(value)
    return [{"programme": p, "since": date.fromisoformat(d)} for p, d in value or ()]


class Snapshot:
    """The ledger as it stands in one read transaction."""

    def __init__(self, engine: Engine, conn: Connection, known_at: datetime, chunk: int):
        self.engine, self.conn, self.known_at, self.chunk = engine, conn, known_at, chunk

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def isolation(self) -> str:
        return "REPEATABLE READ" if self.dialect == "postgresql" else "one read transaction"

    def _chunks(self, query: Any, row: Callable[[Any], dict[str, Any]]) -> Chunks:
        for part in self.conn.execute(query).partitions(self.chunk):
            yield [row(r) for r in part]

    def subjects(self) -> Chunks:
        """Subjects in id order, each with its identifiers (read for 500 subjects at a time,
        as ``ledger.reads`` does: the IN-list SQLite binds)."""
        q = select(t.subjects).order_by(t.subjects.c.id)
        for part in self.conn.execute(q).partitions(self.chunk):
            ids = [s.id for s in part]
            idents: dict[str, list[dict[str, str]]] = {}
            for i in range(0, len(ids), 500):
                for r in self.conn.execute(
                        select(t.identifiers).where(t.identifiers.c.subject.in_(ids[i:i + 500]))
                        .order_by(t.identifiers.c.scheme, t.identifiers.c.value)):
                    idents.setdefault(r.subject, []).append(
                        {"scheme": r.scheme, "value": r.value})
            yield [{"id": s.id, "kind": s.kind, "name": s.name, "region": s.region,
                    "identifiers": idents.get(s.id, []), "registered": s.registered,
                    "opt_ins": _opt_ins(s.opt_ins)} for s in part]

    def links(self) -> Chunks:
        return self._chunks(
            select(t.links).where(t.links.c.recorded_at <= self.known_at).order_by(t.links.c.id),
            lambda r: {"organisation": r.organisation, "party": r.party, "role": r.role,
                       "start": r.start, "end": r.end})

    def records(self) -> Chunks:
        return self._chunks(
            select(t.records).order_by(t.records.c.id),
            lambda r: {"id": r.id, "subject": r.subject, "category": r.category,
                       "agency": r.agency, "act_date": r.act_date, "effective": r.effective,
                       "document_no": r.document_no, "legal_basis": r.legal_basis,
                       "recorded_at": r.recorded_at, "amounts": _amounts(r.amounts),
                       "channel": r.channel})

    def events(self) -> Chunks:
        return self._chunks(
            select(t.record_events).order_by(t.record_events.c.id),
            lambda r: {"id": r.id, "record": r.record, "kind": r.kind,
                       "effective": r.effective, "recorded_at": r.recorded_at,
                       "note": r.note, "amounts": _amounts(r.amounts)})

    def confirmed(self) -> list[str]:
        """Keys of the entries a reviewer confirmed by known-at, sorted."""
        return sorted({c.target for c in load(Connected(self.engine), kind="review",
                                             known_at=self.known_at, conn=self.conn)
                       if c.status == "confirmed"})


@contextmanager
def snapshot(url: str, known_at: datetime, chunk: int = 50_000) -> Iterator[Snapshot]:
    """The ledger at ``url`` in one read transaction, for as long as the block runs.
    Database errors (a missing driver, a database that is not a ledger) propagate as
    SQLAlchemy's."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    try:
        options: dict[str, Any] = {"yield_per": chunk}
        if engine.dialect.name == "postgresql":
            options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            yield Snapshot(engine, conn, known_at, chunk)
    finally:
        engine.dispose()


def _sqlite_transactions(engine: Engine) -> None:
    """SQLite reads in one transaction: the driver's own transaction handling begins none for
    a SELECT, so every read would see the database as it is then. BEGIN issued here holds one
    snapshot (WAL) or a shared lock (rollback journal) until the export ends."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=60000")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")
