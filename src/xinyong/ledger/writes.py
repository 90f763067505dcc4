"""Writing facts: a batch in one transaction under the write lock, idempotent for facts
already recorded, each new fact ledgered with its leaf and chain hash; bulk inserts straight
through the driver (``executemany`` on SQLite, ``COPY`` on PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from xinyong.ledger import hasher
from xinyong.ledger import tables as t
from xinyong.ledger.batch import Batch, WriteResult
from xinyong.ledger.connection import _db_message
from xinyong.ledger.errors import AlreadyIngested, Conflict, LedgerError
from xinyong.ledger.hasher import _Forked, _hash_facts
from xinyong.ledger.payloads import (
    ABSENT,
    FACTS,
    GENESIS,
    ORDER,
    Columns,
    columns_of,
    payload_of,
    payloads,
    ref_of,
    refs_of,
)
from xinyong.ledger.proofs import Checkpoints
from xinyong.ledger.rows import _facts, event_row, link_row, record_row, subject_row
from xinyong.ledger.transaction import Transaction


class Writer(Checkpoints):
    """Appending facts (a file, its checkpoint and its audit entry stand or fall together)."""

    def write(self, batch: Batch, at: datetime | None = None,
              review: Sequence[Mapping[str, Any]] = (),
              audit: tuple[str, str, str | None, Mapping[str, Any]] | None = None,
              checkpoint: bool = False,
              also: Callable[[Transaction], None] | None = None) -> WriteResult:
        """Append a batch in one transaction. Facts already recorded with the same content are
        skipped (resubmission is idempotent); the same id with other content is a Conflict and
        nothing is written. ``also`` writes more (a case's event, notices) in the same
        transaction, and may add to the audit entry's detail (``tx.detail``)."""
        at = at or self.clock()
        cols = _columns(batch, at)
        try:
            with self._writing() as conn:
                result, leaves = self._append(conn, cols, at, batch.ingest)
                if review:
                    conn.execute(insert(t.review_queue), list(review))
                tx = self._transaction(conn, dict(audit[3]) if audit is not None else None)
                if also is not None:
                    also(tx)
                # the file, its checkpoint and its audit entry stand or fall together
                if checkpoint:
                    self._checkpoint(conn, (result.first_seq, leaves))
                if audit is not None:
                    detail = {**tx.detail, "written": result.written}
                    self._audit(conn, audit[0], audit[1], audit[2], detail)
                return result
        except (OperationalError, DBAPIError) as e:
            raise LedgerError(_db_message(e)) from None

    def _transaction(self, conn: Connection, detail: dict[str, Any] | None) -> Transaction:
        """A transaction that can also append facts (``tx.write``), without a checkpoint."""
        return Transaction(conn, detail, lambda batch, at: self._append(
            conn, _columns(batch, at), at, batch.ingest)[0])

    def _append(self, conn: Connection, cols: dict[str, Columns], at: datetime,
                ingest: dict[str, Any] | None) -> tuple[WriteResult, list[bytes]]:
        if ingest is not None and conn.execute(
                select(t.ingests.c.id).where(t.ingests.c.id == ingest["id"])).first():
            # checked again under the write lock: a concurrent twin may have won
            raise AlreadyIngested(f"ingest {ingest['id']} is already recorded")
        last = conn.execute(select(t.ledger.c.seq, t.ledger.c.chain_hash)
                            .order_by(t.ledger.c.seq.desc()).limit(1)).first()
        seq, prev = (last.seq, last.chain_hash) if last else (0, GENESIS)
        first = seq + 1
        written: dict[str, int] = {}
        unchanged: dict[str, int] = {}
        leaves: list[bytes] = []
        prev_b = bytes.fromhex(prev)
        for kind in ORDER:
            new, refs, same = self._new_only(conn, kind, cols[kind])
            unchanged[kind] = same
            written[kind] = n = len(refs)
            if not n:
                continue
            # a second core hashes the facts while the database inserts them
            hashing = _Forked(_hash_facts, kind, new, n, prev_b) if n >= hasher.FORK_AT else None
            _bulk_insert(conn, FACTS[kind][0], new, n)
            mine, leaf_hex, chain_hex = hashing.result() if hashing else _hash_facts(
                kind, new, n, prev_b)
            prev_b = bytes.fromhex(chain_hex[-1])
            _bulk_insert(conn, t.ledger, {
                "seq": list(range(seq + 1, seq + n + 1)), "kind": [kind] * n, "ref": refs,
                "leaf_hash": leaf_hex, "chain_hash": chain_hex, "recorded_at": [at] * n}, n)
            seq += n
            leaves += mine
        if ingest is not None:
            conn.execute(insert(t.ingests), [{**ingest, "at": at, "written": len(leaves)}])
        return WriteResult(written, unchanged, first, seq), leaves

    def _new_only(self, conn: Connection, kind: str,
                  cols: Columns) -> tuple[Columns, list[str], int]:
        """The facts not yet recorded, their refs, and how many identical ones were skipped
        (resubmission is idempotent). The same ref with other content is a Conflict."""
        if not cols:
            return {}, [], 0
        refs = refs_of(kind, cols)
        if len(set(refs)) != len(refs):
            seen: set[str] = set()
            dup = next(r for r in refs if r in seen or seen.add(r))  # type: ignore[func-returns-value]
            raise Conflict(f"{kind} {dup} appears twice in one submission")
        existing = _recorded(conn, kind, refs)
        if not existing:
            return cols, refs, 0
        keep = [i for i, r in enumerate(refs) if r not in existing]
        mine = payloads(kind, cols, len(refs))
        stored = {ref_of(kind, row): payload_of(kind, row) for row in _facts(conn, kind, existing)}
        for i, ref in enumerate(refs):
            if ref in existing and _content(stored[ref]) != _content(mine[i].decode(), kind,
                                                                     stored[ref]):
                raise Conflict(f"{kind} {ref} is already recorded with different content; a "
                               "recorded fact never changes: submit a correction event instead")
        return ({k: [v[i] for i in keep] for k, v in cols.items()}, [refs[i] for i in keep],
                len(refs) - len(keep))



def _columns(batch: Batch, at: datetime) -> dict[str, Columns]:
    """A batch's facts in storage form, kind by kind."""
    ingest = (batch.ingest or {}).get("id")
    records = columns_of("record", [record_row(r, at, ingest) for r in batch.records])
    for name, col in (batch.record_columns or {}).items():
        records[name] = records.get(name, []) + col
    return {
        "subject": columns_of("subject", [subject_row(s, at) for s in batch.subjects]),
        "identifier": columns_of("identifier", [
            {"scheme": i.scheme.value, "value": i.value, "subject": s.id, "recorded_at": at}
            for s in batch.subjects for i in s.identifiers]),
        "link": columns_of("link", [link_row(lk, at) for lk in batch.links]),
        "record": records,
        "event": columns_of("event", [event_row(e, at, ingest) for e in batch.events]),
    }


def _recorded(conn: Connection, kind: str, refs: list[str]) -> set[str]:
    """The refs among ``refs`` already in the ledger, by its unique (kind, ref) index."""
    found: set[str] = set()
    if conn.dialect.name == "sqlite":
        for i in range(0, len(refs), 900):  # SQLite binds at most 999 parameters
            chunk = refs[i:i + 900]
            found.update(r[0] for r in conn.exec_driver_sql(
                "SELECT ref FROM ledger WHERE kind = ? AND ref IN (" + ",".join("?" * len(chunk))
                + ")", (kind, *chunk)))
    else:
        for i in range(0, len(refs), 50_000):
            found.update(r[0] for r in conn.exec_driver_sql(
                "SELECT ref FROM ledger WHERE kind = %s AND ref = ANY(%s)",
                (kind, refs[i:i + 50_000])))
    return found


def _content(payload: str, kind: str = "", stored: str | None = None) -> dict[str, Any]:
    """A payload without when and by which file it was recorded: what the fact says. Compared
    with a ``stored`` fact that lacks a later field (a record from before channels were
    recorded), that field is left out too: the resubmission says nothing new about it."""
    body: dict[str, Any] = json.loads(payload)
    body.pop("recorded_at", None)
    body.pop("ingest", None)
    if stored is not None:
        old = json.loads(stored)
        for f in ABSENT.get(kind, {}):
            if f not in old:
                body.pop(f, None)
    return body


def _bulk_insert(conn: Connection, table: Any, cols: Columns, n: int) -> None:
    """Insert columns straight through the driver: SQLAlchemy's per-row parameter processing
    costs more than the insert itself at a million rows. Values are stored exactly as
    SQLAlchemy's types would store them, so reading through the tables gives the same values.
    PostgreSQL gets COPY, its bulk path."""
    names = [c.name for c in table.columns if c.name in cols]
    sqlite = conn.dialect.name == "sqlite"
    values = []
    for name in names:
        f, col = _converter(table.columns[name].type, sqlite), cols[name]
        if f is None:
            values.append(col)
        elif col.count(col[0]) == n:  # one transaction time for a whole file
            values.append([f(col[0])] * n)
        else:
            memo = {v: f(v) for v in set(col)}  # dates repeat
            values.append(list(map(memo.__getitem__, col)))
    rows = zip(*values, strict=True)
    quoted = ",".join(f'"{c}"' for c in names)
    if sqlite:
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({quoted}) VALUES "
                             f"({','.join('?' * len(names))})", list(rows))
        return
    import psycopg

    sql = f"COPY {table.name} ({quoted}) FROM STDIN"
    try:
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as e:  # raw driver errors, as SQLAlchemy would wrap them
        raise DBAPIError(sql, None, e) from None


def _converter(kind: Any, sqlite: bool) -> Callable[[Any], Any] | None:
    """How a column's values are stored where the driver would not do it as SQLAlchemy does.
    JSON columns already hold canonical text."""
    from sqlalchemy import Date, DateTime

    if sqlite and isinstance(kind, (DateTime, Date)):
        style = "%Y-%m-%d %H:%M:%S.%f" if isinstance(kind, DateTime) else "%Y-%m-%d"
        return lambda v: None if v is None else v.strftime(style)
    return None
