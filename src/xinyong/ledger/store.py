"""The credit ledger: durable, append-only, hash-chained storage of credit facts.

Every fact (subject, identifier, link, record, record event) is written once, with a ledger
entry holding the RFC 9162 leaf hash of the fact's canonical payload (re-derived from the fact
row whenever it is needed) and a chain hash over all entries before it. Checkpoints hold the
Merkle root of the first N entries. Nothing is ever updated or deleted; the database refuses it
too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from xinyong import merkle
from xinyong.dataset import Case, UnknownSubject, standing_of, standings_of
from xinyong.ids import Identifier, IdScheme
from xinyong.ledger import tables as t
from xinyong.model import (
    Channel,
    EventKind,
    Link,
    LinkRole,
    Record,
    RecordEvent,
    Standing,
    Subject,
    SubjectKind,
)
from xinyong.policy.model import Policy

GENESIS = "0" * 64
MIGRATIONS = Path(__file__).parent / "migrations"


class LedgerError(Exception):
    """A clear, user-facing ledger error (never a stack trace)."""


class Conflict(LedgerError):
    """An id already recorded with different content: ledger entries never change."""


class AlreadyIngested(LedgerError):
    """The same file (or idempotency key) was written by another writer in the meantime."""


def default_url() -> str:
    import os

    return os.environ.get("XINYONG_DATABASE", "sqlite:///xinyong-data/ledger.db")


# --- canonical payloads -------------------------------------------------------------


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in sorted(v.items())}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def canonical(row: Mapping[str, Any]) -> str:
    """The canonical JSON of a fact: sorted keys, no spaces, dates ISO, decimals as strings."""
    return json.dumps(_plain(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain(prev_hex: str, leaf_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hex) + bytes.fromhex(leaf_hex)).hexdigest()


# Fact kind → (table, key column(s), payload fields). The ledger payload of a fact is the
# canonical JSON of exactly these fields, so verify can rebuild it from the fact table.
FACTS: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    "subject": (t.subjects, ("id",), ("id", "kind", "name", "region", "registered", "opt_ins",
                                       "recorded_at")),
    "identifier": (t.identifiers, ("scheme", "value"), ("scheme", "value", "subject",
                                                        "recorded_at")),
    "link": (t.links, ("id",), ("id", "organisation", "party", "role", "start", "end",
                                "recorded_at")),
    "record": (t.records, ("id",), ("id", "subject", "category", "agency", "act_date",
                                    "effective", "document_no", "legal_basis", "amounts",
                                    "recorded_at", "ingest", "channel")),
    "event": (t.record_events, ("id",), ("id", "record", "kind", "effective", "recorded_at",
                                         "note", "amounts", "ingest")),
}
ORDER = ("subject", "identifier", "link", "record", "event")

# Fields added after facts were first written, and the value that stands for "not recorded":
# the payload leaves the field out when it holds that value (or nothing), so every fact written
# before the field existed keeps its leaf hash, and each other value is hashed.
ABSENT: dict[str, dict[str, str]] = {"record": {"channel": Channel.UNRECORDED.value}}


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def ref_of(kind: str, row: Mapping[str, Any]) -> str:
    keys = FACTS[kind][1]
    return str(row[keys[0]]) if len(keys) == 1 else ":".join(str(row[k]) for k in keys)


_ISO: dict[Any, str] = {}


def _iso(v: Any) -> str:
    got = _ISO.get(v)
    if got is None:
        if len(_ISO) > 100_000:  # dates and transaction times repeat: a bounded memo
            _ISO.clear()
        got = _ISO[v] = v.isoformat()
    return got


def payload_of(kind: str, row: Mapping[str, Any]) -> str:
    """The canonical JSON of the fact's ledger fields. Dates become ISO strings; the rest is
    already plain (strings, numbers, and dicts or lists of them)."""
    out = {}
    absent = ABSENT.get(kind, {})
    for k in FACTS[kind][2]:
        v = row.get(k)
        if k in absent and (v is None or v == absent[k]):
            continue
        t = type(v)  # exact types: isinstance against ABCs costs more than the encoding
        if t is date or t is datetime:
            v = _iso(v)
        elif t is Decimal or (t is dict and not all(type(x) is str for x in v.values())):
            v = _plain(v)
        out[k] = v
    return _ENCODE(out)


def canonical_amount(raw: str) -> Decimal:
    """An amount as a number: thousands separators dropped, so 150,000 = 150000 = 150000.0."""
    return Decimal(raw.replace(",", "").strip())


def amount_text(value: Decimal) -> str:
    """The one text of an amount (stored and hashed): 150000.0 and 150000 both read '150000'."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


_STR = json.encoder.encode_basestring  # the C encoder json.dumps uses with ensure_ascii=False

Columns = dict[str, list[Any]]
"""Facts of one kind column by column, in storage form; JSON fields hold their canonical text.
Ingest builds these directly: records come by the million."""


def canonical_json(v: Any) -> str:
    return _ENCODE(_plain(v))


def _json_value(v: Any) -> str:
    """One value as canonical JSON (as ``payload_of`` would write it)."""
    t = type(v)
    if t is str:
        return _STR(v)
    if v is None:
        return "null"
    if t is date or t is datetime:
        return '"' + _iso(v) + '"'
    return _ENCODE(_plain(v))


def _json_fields(kind: str) -> set[str]:
    from sqlalchemy import JSON

    return {c.name for c in FACTS[kind][0].columns if isinstance(c.type, JSON)}


def payloads(kind: str, cols: Columns, n: int) -> list[bytes]:
    """``payload_of`` for every row of ``cols`` as UTF-8, built column by column (a test keeps
    the two identical). Keys are sorted, as canonical JSON requires. Each column is encoded
    once per distinct value where values repeat; Arrow joins the pieces."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not n:
        return []
    from sqlalchemy import String

    raw = _json_fields(kind)
    table = FACTS[kind][0]
    absent = ABSENT.get(kind, {})
    pieces: list[Any] = []
    text = "{"
    for i, f in enumerate(sorted(FACTS[kind][2])):
        col = cols.get(f) or [None] * n
        if f in absent:  # a later field: the key and its value, or nothing (never first)
            assert i, "a field added later sorts after the first field"
            memo = {v: "" if v is None or v == absent[f] else f",{_STR(f)}:{_STR(v)}"
                    for v in set(col)}
            pieces += [text, pa.array(list(map(memo.__getitem__, col)), pa.string())]
            text = ""
            continue
        enc: Callable[[Any], str] = _json_value
        if f in raw:  # already canonical text
            enc = lambda v: "null" if v is None else v  # noqa: E731
        elif isinstance(table.c[f].type, String) and not table.c[f].nullable:
            enc = _STR
        text += ("," if i else "") + f"{_STR(f)}:"
        # how a column is encoded only changes the speed: a sample decides
        sample = set(col[:2048])
        if len(sample) == 1 and col.count(col[0]) == n:  # the agency, the file's time …
            text += enc(col[0])
            continue
        if len(sample) < 512:  # values repeat: encode each distinct one once
            memo = {v: enc(v) for v in set(col)}
            values = list(map(memo.__getitem__, col))
        else:
            values = list(map(enc, col))
        pieces += [text, pa.array(values, pa.string())]
        text = ""
    pieces.append(text + "}")
    if len(pieces) == 1:
        return [pieces[0].encode()] * n
    joined = pc.binary_join_element_wise(*pieces, "")
    return joined.cast(pa.binary()).to_pylist()  # type: ignore[no-any-return]


def columns_of(kind: str, rows: Sequence[Mapping[str, Any]]) -> Columns:
    """Row dicts → columns in storage form."""
    if not rows:
        return {}
    raw = _json_fields(kind)
    cols: Columns = {c.name: [r[c.name] for r in rows] for c in FACTS[kind][0].columns
                     if c.name in rows[0]}
    for f in raw & set(cols):
        cols[f] = [None if v is None else canonical_json(v) for v in cols[f]]
    return cols


def refs_of(kind: str, cols: Columns) -> list[str]:
    keys = FACTS[kind][1]
    if len(keys) == 1:
        return [str(v) for v in cols[keys[0]]]
    return [":".join(map(str, vals)) for vals in zip(*(cols[k] for k in keys), strict=True)]


# --- rows ↔ model ------------------------------------------------------------------------


def subject_row(s: Subject, at: datetime) -> dict[str, Any]:
    return {"id": s.id, "kind": s.kind.value, "name": s.name, "region": s.region,
            "registered": s.registered,
            "opt_ins": [[p, d.isoformat()] for p, d in s.opt_ins], "recorded_at": at}


def record_row(r: Record, at: datetime, ingest: str | None = None) -> dict[str, Any]:
    return {"id": r.id, "subject": r.subject, "category": r.category, "agency": r.agency,
            "act_date": r.act_date, "effective": r.effective, "document_no": r.document_no,
            "legal_basis": r.legal_basis,
            "amounts": {k: amount_text(v) for k, v in r.amounts.items()},
            "recorded_at": at, "ingest": ingest, "channel": r.channel.value}


def event_row(e: RecordEvent, at: datetime, ingest: str | None = None) -> dict[str, Any]:
    return {"id": e.id, "record": e.record, "kind": e.kind.value, "effective": e.effective,
            "recorded_at": at, "note": e.note,
            "amounts": {k: amount_text(v) for k, v in e.amounts.items()}, "ingest": ingest}


def link_row(lk: Link, at: datetime) -> dict[str, Any]:
    ident = f"{lk.organisation}:{lk.party}:{lk.role.value}:{lk.start.isoformat()}"
    return {"id": ident, "organisation": lk.organisation, "party": lk.party,
            "role": lk.role.value, "start": lk.start, "end": lk.end, "recorded_at": at}


def _subject(row: Any, idents: Sequence[Any]) -> Subject:
    return Subject(
        id=row.id, kind=SubjectKind(row.kind), name=row.name, region=row.region,
        identifiers=tuple(Identifier(IdScheme(i.scheme), i.value) for i in idents),
        registered=row.registered,
        opt_ins=tuple((p, date.fromisoformat(d)) for p, d in row.opt_ins),
    )


def _record(row: Any) -> Record:
    return Record(row.id, row.subject, row.category, row.agency, row.act_date, row.effective,
                  row.document_no, row.legal_basis, row.recorded_at,
                  {k: Decimal(v) for k, v in row.amounts.items()}, Channel(row.channel))


def _event(row: Any) -> RecordEvent:
    return RecordEvent(row.id, row.record, EventKind(row.kind), row.effective, row.recorded_at,
                       row.note, {k: Decimal(v) for k, v in row.amounts.items()})


def _link(row: Any) -> Link:
    return Link(row.organisation, row.party, LinkRole(row.role), row.start, row.end,
                row.recorded_at)


# --- the store -----------------------------------------------------------------------------


@dataclass
class Batch:
    """Facts written together, atomically, at one transaction time."""

    subjects: list[Subject] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    events: list[RecordEvent] = field(default_factory=list)
    ingest: dict[str, Any] | None = None
    record_columns: Columns | None = None
    """Records already in storage form, column by column (ingest builds these directly)."""


@dataclass(frozen=True)
class WriteResult:
    written: dict[str, int]
    unchanged: dict[str, int]
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries: int
    checkpoints: int
    audit_entries: int
    problem: str | None = None


class Ledger:
    """The store. ``Ledger.open(url)`` creates or upgrades the schema (Alembic)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = datetime.now):
        self.engine = engine
        self.clock = clock

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, clock: Callable[[], datetime] = datetime.now,
             migrate: bool = True) -> Ledger:
        url = url or default_url()
        path = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and not path.startswith((":memory:", "file:")):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_engine(url, future=True)
        except Exception as e:  # bad URL, missing driver
            raise LedgerError(f"cannot open database {url!r}: {e}") from None
        if engine.dialect.name == "sqlite":
            _sqlite_durability(engine)
        ledger = cls(engine, clock)
        if migrate:
            ledger.migrate()
        return ledger

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        for attempt in range(3):
            try:
                # one migrator at a time: a second process waits, then finds the schema at head
                with self.engine.connect().execution_options(xinyong_write=True) as conn:
                    conn.begin()
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(7262011)"))
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    conn.commit()
                return
            except (OperationalError, DBAPIError) as e:
                # another process created the same tables first: read its work and go on
                raced = any(w in str(e).lower() for w in ("already exists", "duplicate key"))
                if not raced or attempt == 2:
                    raise LedgerError(_db_message(e)) from None

    def dispose(self) -> None:
        for name in ("_probe", "_audit_writer"):
            own = self.__dict__.pop(name, None)
            if own is not None:
                own.close()
        self.engine.dispose()

    # -- writing ------------------------------------------------------------------------

    def write(self, batch: Batch, at: datetime | None = None,
              review: Sequence[Mapping[str, Any]] = (),
              audit: tuple[str, str, str | None, Mapping[str, Any]] | None = None,
              checkpoint: bool = False,
              also: Callable[[Connection], None] | None = None) -> WriteResult:
        """Append a batch in one transaction. Facts already recorded with the same content are
        skipped (resubmission is idempotent); the same id with other content is a Conflict and
        nothing is written. ``also`` writes more (a case's event, notices) in the same
        transaction."""
        at = at or self.clock()
        ingest = (batch.ingest or {}).get("id")
        records = columns_of("record", [record_row(r, at, ingest) for r in batch.records])
        for name, col in (batch.record_columns or {}).items():
            records[name] = records.get(name, []) + col
        cols: dict[str, Columns] = {
            "subject": columns_of("subject", [subject_row(s, at) for s in batch.subjects]),
            "identifier": columns_of("identifier", [
                {"scheme": i.scheme.value, "value": i.value, "subject": s.id, "recorded_at": at}
                for s in batch.subjects for i in s.identifiers]),
            "link": columns_of("link", [link_row(lk, at) for lk in batch.links]),
            "record": records,
            "event": columns_of("event", [event_row(e, at, ingest) for e in batch.events]),
        }
        try:
            with self._writing() as conn:
                result, leaves = self._append(conn, cols, at, batch.ingest)
                if review:
                    conn.execute(insert(t.review_queue), list(review))
                if also is not None:
                    also(conn)
                # the file, its checkpoint and its audit entry stand or fall together
                if checkpoint:
                    self._checkpoint(conn, (result.first_seq, leaves))
                if audit is not None:
                    detail = {**audit[3], "written": result.written}
                    self._audit(conn, audit[0], audit[1], audit[2], detail)
                return result
        except (OperationalError, DBAPIError) as e:
            raise LedgerError(_db_message(e)) from None

    def _writing(self) -> Any:
        return _WriteTxn(self.engine)

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
            hashing = _Forked(_hash_facts, kind, new, n, prev_b) if n >= FORK_AT else None
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

    def close_review(self, item: int, status: str, reviewer: str, at: datetime,
                     decision: Mapping[str, Any]) -> None:
        from sqlalchemy import update

        with self._writing() as conn:
            conn.execute(update(t.review_queue).where(t.review_queue.c.id == item).values(
                status=status, decided_by=reviewer, decided_at=at, decision=dict(decision)))

    # -- audit ----------------------------------------------------------------------------

    def audit(self, actor: str, action: str, subject: str | None,
              detail: Mapping[str, Any]) -> None:
        """Append to the hash-chained audit log: who, what, when, why. Returns once the entry
        is committed (see :meth:`audit_later`)."""
        self.audit_later(actor, action, subject, detail).result()

    async def audit_async(self, actor: str, action: str, subject: str | None,
                          detail: Mapping[str, Any]) -> None:
        """:meth:`audit` for a caller on an event loop: awaits the commit without a thread."""
        import asyncio

        await asyncio.wrap_future(self.audit_later(actor, action, subject, detail))

    def audit_later(self, actor: str, action: str, subject: str | None,
                    detail: Mapping[str, Any]) -> Future[None]:
        """Queue an audit entry; the future is done once the transaction holding it has
        committed (or has failed, with the error).

        Group commit: one writer thread per ledger writes everything queued since its last
        transaction in the next one, in queue order, each entry chained to the one before; one
        fsync then serves many requests. Nothing is acknowledged before it is durable. A
        detail JSON cannot hold fails here, in its caller, before it joins a group."""
        entry = (actor, action, subject, _canonical_fast(detail))
        writer = self.__dict__.get("_audit_queue")
        if writer is None:  # setdefault is atomic: racing threads get the same one
            writer = self.__dict__.setdefault("_audit_queue", _AuditQueue(self._write_audit))
        return writer.submit(entry)  # type: ignore[no-any-return]

    def _write_audit(self, entries: list[tuple[str, str, str | None, str]]) -> None:
        """One group's transaction, on the ledger's own connection when it has one."""
        try:
            own = self._own("_audit_writer", write=True)
            if own.conn is None:
                with self._writing() as conn:
                    self._audit_rows(conn, entries)
            else:
                own.append_audit(lambda last: self._audit_chain(last, entries))
        except (OperationalError, DBAPIError) as e:
            raise LedgerError(_db_message(e)) from None

    def _audit(self, conn: Connection, actor: str, action: str, subject: str | None,
               detail: Mapping[str, Any]) -> None:
        self._audit_rows(conn, [(actor, action, subject, _canonical_fast(detail))])

    def _audit_rows(self, conn: Connection,
                    entries: Sequence[tuple[str, str, str | None, str]]) -> None:
        """Append entries (actor, action, subject, the detail's canonical JSON) in order, in
        the caller's write transaction. An entry's hash covers the canonical JSON of
        {at, actor, action, subject, detail}; the detail's text is spliced in as it is."""
        last = conn.execute(select(t.audit_log.c.seq, t.audit_log.c.chain_hash)
                            .order_by(t.audit_log.c.seq.desc()).limit(1)).first()
        conn.execute(insert(t.audit_log), self._audit_chain(last, entries))

    def _audit_chain(self, last: Any, entries: Sequence[tuple[str, str, str | None, str]],
                     ) -> list[dict[str, Any]]:
        """The rows of ``entries`` chained after ``last`` (seq, chain_hash) or the genesis."""
        at = self.clock()
        seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS)
        when = _ENCODE(_iso(at))
        rows = []
        for actor, action, subject, detail in entries:
            # = canonical({"at": at, "actor": …, "action": …, "subject": …, "detail": …})
            body = (f'{{"action":{_STR(action)},"actor":{_STR(actor)},"at":{when},'
                    f'"detail":{detail},"subject":{_ENCODE(subject)}}}')
            seq += 1
            prev = chain(prev, merkle.leaf_hash(body.encode()).hex())
            rows.append({"seq": seq, "at": at, "actor": actor, "action": action,
                         "subject": subject, "detail": detail, "chain_hash": prev})
        return rows

    # -- checkpoints, verification, proofs -------------------------------------------------

    def leaves(self, conn: Connection, upto: int | None = None) -> Iterator[Any]:
        q = select(t.ledger).order_by(t.ledger.c.seq)
        if upto is not None:
            q = q.where(t.ledger.c.seq <= upto)
        yield from conn.execution_options(stream_results=True, yield_per=5000).execute(q)

    def checkpoint(self) -> dict[str, Any] | None:
        """Record the Merkle root of the whole ledger (resuming from the last checkpoint)."""
        try:
            with self._writing() as conn:
                return self._checkpoint(conn)
        except (OperationalError, DBAPIError) as e:
            raise LedgerError(_db_message(e)) from None

    def _checkpoint(self, conn: Connection,
                    fresh: tuple[int, list[bytes]] | None = None) -> dict[str, Any] | None:
        """Checkpoint the whole ledger. ``fresh`` = (first seq, leaf hashes) just written in
        this transaction: those need not be read back."""
        last = conn.execute(select(t.checkpoints).order_by(
            t.checkpoints.c.size.desc()).limit(1)).first()
        rng = merkle.CompactRange() if last is None else merkle.CompactRange.from_state(
            last.size, [bytes.fromhex(h) for h in json.loads(last.frontier)])
        first, leaves = fresh if fresh and fresh[1] else (None, [])
        q = select(t.ledger.c.seq, t.ledger.c.leaf_hash, t.ledger.c.chain_hash).where(
            t.ledger.c.seq > rng.size).order_by(t.ledger.c.seq)
        if first is not None:
            q = q.where(t.ledger.c.seq < first)
        chain_hash = last.chain_hash if last else GENESIS
        rng.extend(bytes.fromhex(row.leaf_hash) for row in conn.execute(q))
        if leaves:
            rng.extend(leaves)
        chain_hash = conn.execute(select(t.ledger.c.chain_hash).where(
            t.ledger.c.seq == rng.size)).scalar() or chain_hash
        if (last is not None and rng.size == last.size) or rng.size == 0:
            return None
        size, hashes = rng.state()
        cp = {"size": size, "root": rng.root().hex(), "chain_hash": chain_hash,
              "frontier": json.dumps([h.hex() for h in hashes]), "created_at": self.clock()}
        conn.execute(insert(t.checkpoints), [cp])
        return cp

    def verify(self) -> VerifyReport:
        """Check every entry: fact row ↔ leaf hash, chain, sequence, checkpoints and
        the audit chain. Names the first altered, removed, reordered or unledgered entry."""
        with self.engine.connect() as conn:
            cps = {r.size: r for r in conn.execute(select(t.checkpoints))}
            facts = {kind: _index(conn, kind) for kind in ORDER}
            rng = merkle.CompactRange()
            prev, expected, n = GENESIS, 1, 0
            ledgered: dict[str, set[str]] = defaultdict(set)
            for row in self.leaves(conn):
                n += 1
                where = f"ledger entry {row.seq} ({row.kind} {row.ref})"
                if row.seq != expected:
                    gone = f"{expected}" if row.seq == expected + 1 else \
                        f"{expected}–{row.seq - 1}"
                    return VerifyReport(False, n, 0, 0, f"ledger entry {gone} removed: the "
                                        f"sequence jumps from {expected - 1} to {row.seq}")
                expected += 1
                fact = facts.get(row.kind, {}).get(row.ref)
                if fact is None:
                    return VerifyReport(False, n, 0, 0, f"{where}: its fact row is missing "
                                        "(removed from the table)")
                if merkle.leaf_hash(payload_of(row.kind, fact).encode()).hex() != row.leaf_hash:
                    return VerifyReport(False, n, 0, 0, f"{where}: the {row.kind} row was "
                                        "altered; it no longer matches its leaf hash")
                prev = chain(prev, row.leaf_hash)
                if prev != row.chain_hash:
                    return VerifyReport(False, n, 0, 0, f"{where} altered or reordered: the "
                                        "hash chain breaks here")
                ledgered[row.kind].add(row.ref)
                rng.append(bytes.fromhex(row.leaf_hash))
                cp = cps.get(rng.size)
                if cp is not None and (cp.root != rng.root().hex() or cp.chain_hash != prev):
                    return VerifyReport(False, n, 0, 0, f"checkpoint at size {cp.size} does "
                                        "not match the ledger")
            for kind in ORDER:
                extra = set(facts[kind]) - ledgered[kind]
                if extra:
                    return VerifyReport(False, n, 0, 0, f"{kind} {sorted(extra)[0]} is in the "
                                        "table but not in the ledger (inserted behind its back)")
            beyond = [s for s in cps if s > n]
            if beyond:
                return VerifyReport(False, n, 0, 0, f"checkpoint at size {min(beyond)} covers "
                                    f"entries that no longer exist (the ledger has {n})")
            audit = self._verify_audit(conn)
            if isinstance(audit, str):
                return VerifyReport(False, n, len(cps), 0, audit)
            return VerifyReport(True, n, len(cps), audit)

    def _verify_audit(self, conn: Connection) -> int | str:
        prev, expected = GENESIS, 1
        for row in conn.execute(select(t.audit_log).order_by(t.audit_log.c.seq)):
            if row.seq != expected:
                return f"audit entry {expected} removed"
            expected += 1
            body = canonical({"at": row.at, "actor": row.actor, "action": row.action,
                              "subject": row.subject, "detail": json.loads(row.detail)})
            prev = chain(prev, merkle.leaf_hash(body.encode()).hex())
            if prev != row.chain_hash:
                return f"audit entry {row.seq} altered or reordered"
        return expected - 1

    def prove(self, record_id: str) -> dict[str, Any]:
        """An RFC 9162 inclusion proof of a record against the latest checkpoint covering it."""
        with self.engine.connect() as conn:
            entry = conn.execute(select(t.ledger).where(
                t.ledger.c.kind == "record", t.ledger.c.ref == record_id)).first()
            if entry is None:
                raise LedgerError(f"no record {record_id!r} in the ledger")
            cp = conn.execute(select(t.checkpoints).where(t.checkpoints.c.size >= entry.seq)
                              .order_by(t.checkpoints.c.size).limit(1)).first()
            if cp is None:
                raise LedgerError(f"no checkpoint covers record {record_id!r} yet; run "
                                  "`xinyong checkpoint`")
            hashes = [bytes.fromhex(r.leaf_hash) for r in conn.execute(
                select(t.ledger.c.leaf_hash).where(t.ledger.c.seq <= cp.size)
                .order_by(t.ledger.c.seq))]
            fact = next(iter(_facts(conn, "record", {record_id})), None)
        if fact is None:
            raise LedgerError(f"record {record_id!r} is in the ledger but not in the records "
                              "table; run `xinyong verify`")
        proof = merkle.inclusion_proof(entry.seq - 1, hashes)
        return {
            "record": record_id,
            "payload": payload_of("record", fact),
            "leaf_index": entry.seq - 1,
            "leaf_hash": entry.leaf_hash,
            "tree_size": cp.size,
            "root": cp.root,
            "checkpoint_created_at": cp.created_at.isoformat(),
            "proof": [h.hex() for h in proof],
            "algorithm": "RFC 9162 §2.1.3.2: leaf = SHA-256(0x00 || payload UTF-8); "
                         "node = SHA-256(0x01 || left || right)",
        }

    # -- reading ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {kind: conn.execute(select(func.count()).select_from(FACTS[kind][0]))
                    .scalar_one() for kind in ORDER} | {
                "ledger": conn.execute(select(func.count()).select_from(t.ledger)).scalar_one()}

    def subjects(self, ids: Iterable[str] | None = None) -> dict[str, Subject]:
        with self.engine.connect() as conn:
            q = select(t.subjects)
            qi = select(t.identifiers)
            if ids is not None:
                wanted = list(ids)
                q = q.where(t.subjects.c.id.in_(wanted))
                qi = qi.where(t.identifiers.c.subject.in_(wanted))
            idents: dict[str, list[Any]] = defaultdict(list)
            for i in conn.execute(qi):
                idents[i.subject].append(i)
            return {r.id: _subject(r, idents[r.id]) for r in conn.execute(q)}

    def find_identifier(self, scheme: str, value: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.identifiers.c.subject).where(
                t.identifiers.c.scheme == scheme, t.identifiers.c.value == value)).scalar()

    def resolve(self, key: str, policy: Policy) -> Subject:
        found = self.subjects([key])
        if key in found:
            return found[key]
        from xinyong.dataset import Dataset
        from xinyong.ids import InvalidIdentifier, readings

        for scheme in ("cn-uscc", "cn-ric", "passport"):  # a stored identifier, exactly
            sid = self.find_identifier(scheme, key.strip().upper())
            if sid is not None:
                return self.subjects([sid])[sid]
        try:  # its readings by structure (labelled, spaced or hyphenated keys)
            held = {sid for i in readings(key, policy.exceptions)
                    if (sid := self.find_identifier(i.scheme, i.value)) is not None}
        except InvalidIdentifier:
            held = set()
        if len(held) == 1:
            sid = held.pop()
            return self.subjects([sid])[sid]
        # an empty dataset diagnoses the key: the check character expected, the schemes tried
        Dataset([], [], [], []).resolve(key, policy.exceptions)
        raise UnknownSubject(f"no subject {key!r} in the ledger")

    def case(self, subject: Subject, depth: int = 2) -> Case:
        """The subject, every subject linked to it within ``depth`` hops, their records,
        events and links (see :meth:`cases`)."""
        return self.cases([subject], depth)[subject.id]

    def cases(self, subjects: Iterable[Subject], depth: int = 2) -> dict[str, Case]:
        """``case`` for many subjects at once, by subject id: the same neighbourhoods (every
        link touching a subject reached within ``depth`` hops, the records of every subject
        reached, their events), read with a few IN-queries per hop for all of them instead of
        several queries per subject. Facts shared by neighbourhoods are read once."""
        wanted = {s.id: s for s in subjects}
        rows: dict[str, Any] = {}
        links_of: dict[str, list[Any]] = defaultdict(list)
        with self.engine.connect() as conn:
            # every link touching a subject within depth - 1 hops of any asked subject
            loaded: set[str] = set()
            frontier = set(wanted)
            for _ in range(depth):
                todo = sorted(frontier - loaded)
                if not todo:
                    break
                for chunk in _chunks(todo):
                    for row in conn.execute(select(t.links).where(
                            t.links.c.organisation.in_(chunk) | t.links.c.party.in_(chunk))):
                        if row.id not in rows:
                            rows[row.id] = row
                            links_of[row.organisation].append(row)
                            if row.party != row.organisation:
                                links_of[row.party].append(row)
                loaded.update(todo)
                frontier = {o for sid in todo for row in links_of.get(sid, ())
                            for o in (row.organisation, row.party)} - loaded
            # each subject's neighbourhood, walked exactly as ``case`` walks it
            hoods: dict[str, tuple[set[str], dict[str, Any]]] = {}
            for sid in wanted:
                seen, front = {sid}, {sid}
                mine: dict[str, Any] = {}
                for _ in range(depth):
                    if not front:
                        break
                    nxt: set[str] = set()
                    for x in front:
                        for row in links_of.get(x, ()):
                            mine[row.id] = row
                            for other in (row.organisation, row.party):
                                if other not in seen:
                                    seen.add(other)
                                    nxt.add(other)
                    front = nxt
                hoods[sid] = (seen, mine)
            everyone = sorted(set().union(*(seen for seen, _ in hoods.values())))
            records_of: dict[str, list[Record]] = defaultdict(list)
            for chunk in _chunks(everyone):
                for r in conn.execute(select(t.records).where(t.records.c.subject.in_(chunk))):
                    records_of[r.subject].append(_record(r))
            events_of: dict[str, list[RecordEvent]] = defaultdict(list)
            ids = [r.id for rs in records_of.values() for r in rs]
            for chunk in _chunks(ids):
                for e in conn.execute(select(t.record_events)
                                      .where(t.record_events.c.record.in_(chunk))):
                    events_of[e.record].append(_event(e))
        known = {k: s for chunk in _chunks(everyone) for k, s in self.subjects(chunk).items()}
        link_of = {k: _link(row) for k, row in rows.items()}
        out = {}
        for sid, (seen, mine) in hoods.items():
            recs = [r for k in seen for r in records_of.get(k, ())]
            out[sid] = Case(wanted[sid], [known[k] for k in seen if k != sid and k in known],
                            recs, [e for r in recs for e in events_of.get(r.id, ())],
                            [link_of[k] for k in mine])
        return out

    def standing(self, policy: Policy, subject: Subject, as_of: date,
                 known_at: datetime | None = None) -> Standing:
        return standing_of(self, policy, subject, as_of, known_at)

    def standings(self, policy: Policy, subjects: Iterable[Subject],
                  as_of: date) -> dict[str, Standing]:
        """``standing`` (known_at=None) of many subjects on one date, by subject id, with
        their cases and due-process state read in bulk."""
        return standings_of(self, policy, subjects, as_of)

    def due_processes(self, cases: Iterable[Case], known_at: datetime) -> dict[str, Any]:
        """``due_process`` for many cases at once, by subject id: the same state, read for all
        their subjects in a few queries."""
        from xinyong.model import DueProcess
        from xinyong.process.cases import load

        cases = list(cases)
        everyone = sorted({s for c in cases for s in (c.subject.id, *(r.id for r in c.related))})
        disputed: dict[str, set[str]] = defaultdict(set)
        confirmed: dict[str, set[str]] = defaultdict(set)
        noticed: dict[str, set[str]] = defaultdict(set)
        with self.engine.connect() as conn:
            for chunk in _chunks(everyone):
                for case in load(self, subjects=chunk, known_at=known_at, conn=conn):
                    if case.kind == "objection" and case.open:
                        disputed[case.subject].add(case.target)
                    elif case.kind == "review" and case.status == "confirmed":
                        confirmed[case.subject].add(case.target)
                for r in conn.execute(select(t.notices.c.subject, t.notices.c.entry).where(
                        t.notices.c.kind == "listing", t.notices.c.subject.in_(chunk),
                        t.notices.c.created_at <= known_at)):
                    noticed[r.subject].add(r.entry)
        out = {}
        for c in cases:
            ids = (c.subject.id, *(r.id for r in c.related))
            out[c.subject.id] = DueProcess(
                frozenset().union(*(disputed.get(i, ()) for i in ids)),
                frozenset().union(*(confirmed.get(i, ()) for i in ids)),
                frozenset().union(*(noticed.get(i, ()) for i in ids)))
        return out

    def generation(self) -> tuple[int, ...]:
        """A fingerprint of everything a standing is computed from, read in one query: the
        last ledger entry (subjects, identifiers, links, records and record events are all
        ledgered, under the write lock, so it grows with every fact) and the number of cases,
        case events and notices (insert-only: nothing updates or deletes them). Any write that
        can change a standing changes it; it never goes back."""
        own = self._own("_probe", write=False)
        if own.conn is None:  # an in-memory database: only the pool's connection sees it
            with self.engine.connect() as c:
                row = c.exec_driver_sql(_GENERATION).one()
        else:
            row = own.read(_GENERATION)
        return tuple(int(v or 0) for v in row)

    def _own(self, name: str, write: bool) -> _OwnConnection:
        own = self.__dict__.get(name)
        if own is None:  # setdefault is atomic: racing threads get the same one
            own = self.__dict__.setdefault(name, _OwnConnection(self.engine, write))
        return own  # type: ignore[no-any-return]

    def due_process(self, case: Case, known_at: datetime) -> Any:
        """The platform's due-process state for a case's subjects: open objections and
        reviewers' confirmations recorded by ``known_at``."""
        from xinyong.process.workflow import due_state

        return due_state(self, [case.subject.id, *(s.id for s in case.related)], known_at)


class _AuditQueue:
    """Audit entries waiting for their transaction, and the thread that writes them. The
    thread starts with the first entry and ends after two idle seconds."""

    def __init__(self, write: Callable[[list[tuple[str, str, str | None, str]]], None]):
        import threading

        self.write = write
        self.lock = threading.Condition()
        self.queue: list[tuple[tuple[str, str, str | None, str], Future[None]]] = []
        self.running = False

    def submit(self, entry: tuple[str, str, str | None, str]) -> Future[None]:
        import threading

        done: Future[None] = Future()
        with self.lock:
            self.queue.append((entry, done))
            if self.running:
                self.lock.notify()
            else:
                self.running = True
                threading.Thread(target=self._run, name="xinyong-audit", daemon=True).start()
        return done

    def _run(self) -> None:
        while True:
            with self.lock:
                if not self.queue:
                    self.lock.wait(timeout=2.0)
                if not self.queue:
                    self.running = False
                    return
                batch, self.queue = self.queue, []
            try:
                self.write([entry for entry, _ in batch])
            except BaseException as e:  # every caller of the group gets the error
                for _, done in batch:
                    done.set_exception(e)
            else:
                for _, done in batch:
                    done.set_result(None)


def _plain_default(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Mapping):
        return dict(v)
    raise TypeError(f"{type(v).__name__} is not JSON")


def _canonical_fast(v: Any) -> str:
    """``canonical(v)``, the same text, without first copying every value through ``_plain``
    (an audit entry of a screening lists tens of thousands of asks). A test keeps the two
    identical."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain_default)


_GENERATION = ("SELECT (SELECT max(seq) FROM ledger), (SELECT count(*) FROM cases), "
               "(SELECT count(*) FROM case_events), (SELECT count(*) FROM notices)")


class _OwnConnection:
    """A DBAPI connection of the ledger's own, outside the pool, for the two things every
    decision request does: read the generation (autocommit reads: ~3 µs on SQLite instead of
    ~55 µs for a pooled checkout, begin and rollback) and append its audit entries (one
    transaction per group, without the pool's and the ORM layer's work per transaction).
    Durability and locking are the ledger's own: ``synchronous=FULL`` and ``BEGIN IMMEDIATE``
    on SQLite, the ledger table lock on PostgreSQL. ``conn`` is None for an in-memory
    database, which only the pool's connection sees. Shared by threads under a lock."""

    def __init__(self, engine: Engine, write: bool):
        import threading

        self.lock = threading.Lock()
        self.conn: Any = None
        self.dialect = engine.dialect
        url, name = engine.url, engine.dialect.name
        if name == "sqlite" and (url.database or ":memory:") != ":memory:" \
                and not str(url.database).startswith("file:"):
            cargs, cparams = self.dialect.create_connect_args(url)
            cparams["check_same_thread"] = False
            self.conn = self.dialect.connect(*cargs, **cparams)
            self.conn.isolation_level = None  # autocommit; transactions begun explicitly
            for pragma in ("busy_timeout=60000", "synchronous=FULL"):
                self.conn.execute(f"PRAGMA {pragma}")
        elif name == "postgresql":
            cargs, cparams = self.dialect.create_connect_args(url)
            self.conn = self.dialect.connect(*cargs, **cparams)
            self.conn.autocommit = not write

    def read(self, sql: str) -> Any:
        with self.lock:
            cur = self.conn.cursor()
            try:
                cur.execute(sql)
                return cur.fetchone()
            finally:
                cur.close()

    def append_audit(self, rows_after: Callable[[Any], list[dict[str, Any]]]) -> None:
        """One transaction under the ledger's write lock: read the last entry, append the
        rows ``rows_after(last)`` chains after it, commit."""
        sqlite = self.dialect.name == "sqlite"
        mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        at = t.audit_log.c.at.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        cols = ("seq", "at", "actor", "action", "subject", "detail", "chain_hash")
        insert_sql = (f"INSERT INTO audit_log ({', '.join(cols)}) "
                      f"VALUES ({', '.join([mark] * len(cols))})")
        with self.lock:
            cur = self.conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if sqlite
                            else "LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE")
                cur.execute("SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                rows = rows_after(cur.fetchone())
                cur.executemany(insert_sql, [
                    tuple(at(r[c]) if c == "at" and at else r[c] for c in cols) for r in rows])
                if sqlite:
                    cur.execute("COMMIT")
                else:
                    self.conn.commit()
            except self.dialect.loaded_dbapi.Error as e:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK") if sqlite else self.conn.rollback()
                raise LedgerError(f"the audit entry was not written: {e}") from None
            except BaseException:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK") if sqlite else self.conn.rollback()
                raise
            finally:
                cur.close()

    def close(self) -> None:
        if self.conn is not None:
            with self.lock:
                self.conn.close()
                self.conn = None


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Pieces small enough for one IN-list (SQLite binds a limited number of parameters)."""
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


class _WriteTxn:
    """A write transaction holding the ledger's write lock, so entries get gap-free sequence
    numbers and one chain even with several writers (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
    table lock)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self) -> Connection:
        self.conn = self.engine.connect().execution_options(xinyong_write=True)
        self.conn.begin()
        if self.engine.dialect.name != "sqlite":
            self.conn.execute(text("LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE"))
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.conn.close()


def _sqlite_durability(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (BEGIN IMMEDIATE)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")  # first: the pragmas below may wait too
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
        cur.execute("PRAGMA foreign_keys=ON")
        # an ingest inserts into indexes in random order; the default 2 MB cache makes every
        # one of those a read. 256 MB is a ceiling, taken only as pages are touched.
        cur.execute("PRAGMA cache_size=-262144")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # a writer takes the write lock at once, so two writers queue instead of deadlocking
        immediate = conn.get_execution_options().get("xinyong_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


FORK_AT = 50_000
"""From this many facts of a kind in one write, hashing runs in a forked child process."""


def _hash_facts(kind: str, cols: Columns, n: int,
                prev: bytes) -> tuple[list[bytes], list[str], list[str]]:
    """RFC 9162 leaf hashes of the facts' payloads, and the chain over them from ``prev``:
    (leaves, leaves in hex, chain hashes in hex)."""
    leaves, chained = [], []
    for p in payloads(kind, cols, n):
        leaf = sha256(b"\x00" + p).digest()
        prev = sha256(prev + leaf).digest()
        leaves.append(leaf)
        chained.append(prev)
    return leaves, [h.hex() for h in leaves], [h.hex() for h in chained]


def _die_with(parent: int) -> None:
    """Linux: the kernel kills this process when its parent dies (a killed ingest leaves no
    helper behind). Elsewhere the broken pipe ends it once it has a result to send."""
    import ctypes
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


class _Forked:
    """``fn(*args)`` computed in a forked child that shares the parent's memory as it was at
    the fork, so the arguments are never copied; only the result comes back, pickled, through
    a pipe. The child leaves by ``os._exit``: it never touches, flushes or closes anything it
    inherited (the database connection above all). Where there is no fork, or other threads
    run, it runs inline."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        import os

        self.value: Any = None
        self.pid = 0
        import threading

        # forking a process with other threads (a web server's) could copy a held lock
        if not hasattr(os, "fork") or threading.active_count() > 1:
            try:
                self.value = fn(*args)
            except Exception as e:  # as the child reports it
                raise LedgerError(f"hashing failed: {e!r}") from None
            return
        self.read, write = os.pipe()
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # the child
            import pickle

            try:
                os.close(self.read)  # so a dead parent means a broken pipe, not a wait
                _die_with(parent)
                try:
                    out = pickle.dumps((True, fn(*args)), protocol=5)
                except BaseException as e:  # the parent raises it
                    out = pickle.dumps((False, LedgerError(f"hashing failed: {e!r}")))
                view = memoryview(len(out).to_bytes(8, "little") + out)
                while view:
                    view = view[os.write(write, view):]
            finally:
                os._exit(0)
        os.close(write)

    def result(self) -> Any:
        import os
        import pickle

        if not self.pid:
            return self.value
        chunks = []
        try:
            with os.fdopen(self.read, "rb") as pipe:
                size = int.from_bytes(pipe.read(8), "little")
                chunks.append(pipe.read(size))
        finally:
            os.waitpid(self.pid, 0)
        if not chunks or not chunks[0]:
            raise LedgerError("the hashing process ended without a result; nothing was written")
        ok, value = pickle.loads(chunks[0])
        if not ok:
            raise value
        return value


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


def _facts(conn: Connection, kind: str, refs: set[str]) -> list[dict[str, Any]]:
    """The stored fact rows with these refs."""
    table, keys, _ = FACTS[kind]
    out = []
    wanted = sorted(refs)
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        if len(keys) == 1:
            q = select(table).where(table.c[keys[0]].in_(chunk))
        else:  # (scheme, value): narrow by value, then match the whole ref
            q = select(table).where(table.c[keys[1]].in_([r.split(":", 1)[1] for r in chunk]))
        out += [d for row in conn.execute(q) if ref_of(kind, d := dict(row._mapping)) in refs]
    return out


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


def _index(conn: Connection, kind: str) -> dict[str, dict[str, Any]]:
    table, keys, _ = FACTS[kind]
    out = {}
    for row in conn.execute(select(table)):
        d = dict(row._mapping)
        out[":".join(str(d[k]) for k in keys)] = d
    return out


def _db_message(e: Exception) -> str:
    msg = str(getattr(e, "orig", e)).strip().splitlines()[0]
    low = msg.lower()
    if "readonly" in low or "read-only" in low or "attempt to write" in low:
        return ("the database is read-only; nothing was written. Check the file's permissions "
                "or open a writable copy")
    if "full" in low or "no space" in low:
        return "the disk or database is full; nothing was written. Free space and retry"
    if "append-only" in low:
        return f"refused: {msg}"
    if "unable to open" in low:
        return f"cannot open the database file ({msg}); check the path and permissions"
    return f"database error, nothing was written: {msg}"
