"""The credit ledger: durable, append-only, hash-chained storage of credit facts.

Every fact (subject, identifier, link, record, record event) is written once, with a ledger
entry holding its canonical payload, the RFC 9162 leaf hash of that payload and a chain hash
over all entries before it. Checkpoints hold the Merkle root of the first N entries. Nothing
is ever updated or deleted; the database refuses it too.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from xinyong import merkle
from xinyong.dataset import Case, UnknownSubject, standing_of
from xinyong.ids import Identifier, IdScheme
from xinyong.ledger import tables as t
from xinyong.model import (
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
                                    "recorded_at", "ingest")),
    "event": (t.record_events, ("id",), ("id", "record", "kind", "effective", "recorded_at",
                                         "note", "amounts", "ingest")),
}
ORDER = ("subject", "identifier", "link", "record", "event")


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
    for k in FACTS[kind][2]:
        v = row.get(k)
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


def record_payload(row: Mapping[str, Any]) -> str:
    """``payload_of("record", row)``, written out directly: records come by the million.
    A test keeps the two identical."""
    amounts = row["amounts"]
    if amounts and all(type(v) is str for v in amounts.values()):
        am = "{" + ",".join(f"{_STR(k)}:{_STR(amounts[k])}" for k in sorted(amounts)) + "}"
    elif amounts:
        return payload_of("record", row)
    else:
        am = "{}"
    ingest = row.get("ingest")
    return (f'{{"act_date":"{_iso(row["act_date"])}","agency":{_STR(row["agency"])},'
            f'"amounts":{am},"category":{_STR(row["category"])},'
            f'"document_no":{_STR(row["document_no"])},"effective":"{_iso(row["effective"])}",'
            f'"id":{_STR(row["id"])},"ingest":{"null" if ingest is None else _STR(ingest)},'
            f'"legal_basis":{_STR(row["legal_basis"])},'
            f'"recorded_at":"{_iso(row["recorded_at"])}","subject":{_STR(row["subject"])}}}')


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
            "recorded_at": at, "ingest": ingest}


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
                  {k: Decimal(v) for k, v in row.amounts.items()})


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
    record_rows: list[dict[str, Any]] = field(default_factory=list)
    """Records already in storage form (ingest builds these directly, a million at a time)."""


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
        self.engine.dispose()

    # -- writing ------------------------------------------------------------------------

    def write(self, batch: Batch, at: datetime | None = None,
              review: Sequence[Mapping[str, Any]] = (),
              audit: tuple[str, str, str | None, Mapping[str, Any]] | None = None,
              checkpoint: bool = False) -> WriteResult:
        """Append a batch in one transaction. Facts already recorded with the same content are
        skipped (resubmission is idempotent); the same id with other content is a Conflict and
        nothing is written."""
        at = at or self.clock()
        rows: dict[str, list[dict[str, Any]]] = {
            "subject": [subject_row(s, at) for s in batch.subjects],
            "identifier": [{"scheme": i.scheme.value, "value": i.value, "subject": s.id,
                            "recorded_at": at} for s in batch.subjects for i in s.identifiers],
            "link": [link_row(lk, at) for lk in batch.links],
            "record": [record_row(r, at, (batch.ingest or {}).get("id")) for r in batch.records]
            + batch.record_rows,
            "event": [event_row(e, at, (batch.ingest or {}).get("id")) for e in batch.events],
        }
        try:
            with self._writing() as conn:
                result = self._append(conn, rows, at, batch.ingest)
                if review:
                    conn.execute(insert(t.review_queue), list(review))
                # the file, its checkpoint and its audit entry stand or fall together
                if checkpoint:
                    self._checkpoint(conn)
                if audit is not None:
                    detail = {**audit[3], "written": result.written}
                    self._audit(conn, audit[0], audit[1], audit[2], detail)
                return result
        except (OperationalError, DBAPIError) as e:
            raise LedgerError(_db_message(e)) from None

    def _writing(self) -> Any:
        return _WriteTxn(self.engine)

    def _append(self, conn: Connection, rows: dict[str, list[dict[str, Any]]], at: datetime,
                ingest: dict[str, Any] | None) -> WriteResult:
        last = conn.execute(select(t.ledger.c.seq, t.ledger.c.chain_hash)
                            .order_by(t.ledger.c.seq.desc()).limit(1)).first()
        seq, prev = (last.seq, last.chain_hash) if last else (0, GENESIS)
        first = seq + 1
        written: dict[str, int] = {}
        unchanged: dict[str, int] = {}
        entries: list[tuple[Any, ...]] = []
        prev_b = bytes.fromhex(prev)
        for kind in ORDER:
            new_rows, same = self._new_only(conn, kind, rows[kind])
            unchanged[kind] = same
            written[kind] = len(new_rows)
            if not new_rows:
                continue
            _bulk_insert(conn, FACTS[kind][0], new_rows)
            encode = record_payload if kind == "record" else partial(payload_of, kind)
            for row in new_rows:
                seq += 1
                payload = encode(row)
                # RFC 9162 leaf, then the chain, kept as bytes until stored
                leaf = sha256(b"\x00" + payload.encode()).digest()
                prev_b = sha256(prev_b + leaf).digest()
                entries.append((seq, kind, ref_of(kind, row), payload, leaf.hex(), prev_b.hex()))
        if entries:
            stamp = _converter(t.ledger.c.recorded_at.type, conn.dialect.name == "sqlite")
            when = stamp(at) if stamp else at
            marks = ",".join(["?" if conn.dialect.name == "sqlite" else "%s"] * 7)
            conn.exec_driver_sql(
                "INSERT INTO ledger (seq, kind, ref, payload, leaf_hash, chain_hash, recorded_at)"
                f" VALUES ({marks})", [(*e, when) for e in entries])
        if ingest is not None:
            conn.execute(insert(t.ingests), [{**ingest, "at": at, "written": len(entries)}])
        return WriteResult(written, unchanged, first, seq)

    def _new_only(self, conn: Connection, kind: str,
                  rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        """Rows whose id is not yet recorded; identical resubmissions are skipped."""
        if not rows:
            return [], 0
        refs = {ref_of(kind, r): r for r in rows}
        if len(refs) != len(rows):
            seen: set[str] = set()
            dup = next(ref_of(kind, r) for r in rows if ref_of(kind, r) in seen
                       or seen.add(ref_of(kind, r)))  # type: ignore[func-returns-value]
            raise Conflict(f"{kind} {dup} appears twice in one submission")
        existing: dict[str, str] = {}
        keys = list(refs)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = select(t.ledger.c.ref, t.ledger.c.payload).where(
                t.ledger.c.kind == kind, t.ledger.c.ref.in_(chunk))
            existing.update({r.ref: r.payload for r in conn.execute(q)})
        new, same = [], 0
        for ref, row in refs.items():
            old = existing.get(ref)
            if old is None:
                new.append(row)
                continue
            was = json.loads(old)
            now = json.loads(payload_of(kind, row))
            was.pop("recorded_at", None)
            now.pop("recorded_at", None)
            was.pop("ingest", None)
            now.pop("ingest", None)
            if was != now:
                raise Conflict(f"{kind} {ref} is already recorded with different content; a "
                               "recorded fact never changes: submit a correction event instead")
            same += 1
        return new, same

    def close_review(self, item: int, status: str, reviewer: str, at: datetime,
                     decision: Mapping[str, Any]) -> None:
        from sqlalchemy import update

        with self._writing() as conn:
            conn.execute(update(t.review_queue).where(t.review_queue.c.id == item).values(
                status=status, decided_by=reviewer, decided_at=at, decision=dict(decision)))

    # -- audit ----------------------------------------------------------------------------

    def audit(self, actor: str, action: str, subject: str | None,
              detail: Mapping[str, Any]) -> None:
        """Append to the hash-chained audit log: who, what, when, why."""
        try:
            with self._writing() as conn:
                self._audit(conn, actor, action, subject, detail)
        except (OperationalError, DBAPIError) as e:
            raise LedgerError(_db_message(e)) from None

    def _audit(self, conn: Connection, actor: str, action: str, subject: str | None,
               detail: Mapping[str, Any]) -> None:
        at = self.clock()
        last = conn.execute(select(t.audit_log.c.seq, t.audit_log.c.chain_hash)
                            .order_by(t.audit_log.c.seq.desc()).limit(1)).first()
        seq, prev = (last.seq, last.chain_hash) if last else (0, GENESIS)
        body = canonical({"at": at, "actor": actor, "action": action, "subject": subject,
                          "detail": detail})
        leaf = merkle.leaf_hash(body.encode()).hex()
        conn.execute(insert(t.audit_log), [{
            "seq": seq + 1, "at": at, "actor": actor, "action": action, "subject": subject,
            "detail": canonical(detail), "chain_hash": chain(prev, leaf)}])

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

    def _checkpoint(self, conn: Connection) -> dict[str, Any] | None:
        last = conn.execute(select(t.checkpoints).order_by(
            t.checkpoints.c.size.desc()).limit(1)).first()
        rng = merkle.CompactRange() if last is None else merkle.CompactRange.from_state(
            last.size, [bytes.fromhex(h) for h in json.loads(last.frontier)])
        q = select(t.ledger.c.seq, t.ledger.c.leaf_hash, t.ledger.c.chain_hash).where(
            t.ledger.c.seq > rng.size).order_by(t.ledger.c.seq)
        chain_hash = last.chain_hash if last else GENESIS
        for row in conn.execute(q):
            rng.append(bytes.fromhex(row.leaf_hash))
            chain_hash = row.chain_hash
        if (last is not None and rng.size == last.size) or rng.size == 0:
            return None
        size, hashes = rng.state()
        cp = {"size": size, "root": rng.root().hex(), "chain_hash": chain_hash,
              "frontier": json.dumps([h.hex() for h in hashes]), "created_at": self.clock()}
        conn.execute(insert(t.checkpoints), [cp])
        return cp

    def verify(self) -> VerifyReport:
        """Check every entry: payload ↔ fact row, leaf hash, chain, sequence, checkpoints and
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
                if merkle.leaf_hash(row.payload.encode()).hex() != row.leaf_hash:
                    return VerifyReport(False, n, 0, 0, f"{where} altered: its payload no "
                                        "longer matches its leaf hash")
                prev = chain(prev, row.leaf_hash)
                if prev != row.chain_hash:
                    return VerifyReport(False, n, 0, 0, f"{where} altered or reordered: the "
                                        "hash chain breaks here")
                fact = facts.get(row.kind, {}).get(row.ref)
                if fact is None:
                    return VerifyReport(False, n, 0, 0, f"{where}: its fact row is missing "
                                        "(removed from the table)")
                if payload_of(row.kind, fact) != row.payload:
                    return VerifyReport(False, n, 0, 0, f"{where}: the {row.kind} row was "
                                        "altered; it no longer matches the ledger")
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
        proof = merkle.inclusion_proof(entry.seq - 1, hashes)
        return {
            "record": record_id,
            "payload": entry.payload,
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

        for scheme in ("cn-uscc", "cn-ric", "passport"):
            sid = self.find_identifier(scheme, key.strip().upper())
            if sid is not None:
                return self.subjects([sid])[sid]
        # an empty dataset diagnoses the key: a wrong check character, or simply unknown
        Dataset([], [], [], []).resolve(key, policy.exceptions)
        raise UnknownSubject(f"no subject {key!r} in the ledger")

    def case(self, subject: Subject, depth: int = 2) -> Case:
        with self.engine.connect() as conn:
            seen, frontier = {subject.id}, {subject.id}
            links: dict[str, Any] = {}
            for _ in range(depth):
                if not frontier:
                    break
                q = select(t.links).where(t.links.c.organisation.in_(frontier)
                                          | t.links.c.party.in_(frontier))
                nxt: set[str] = set()
                for row in conn.execute(q):
                    links[row.id] = row
                    for other in (row.organisation, row.party):
                        if other not in seen:
                            seen.add(other)
                            nxt.add(other)
                frontier = nxt
            recs = [_record(r) for r in conn.execute(
                select(t.records).where(t.records.c.subject.in_(seen)))]
            ids = [r.id for r in recs]
            evs = [_event(e) for i in range(0, len(ids), 500) for e in conn.execute(
                select(t.record_events).where(t.record_events.c.record.in_(ids[i:i + 500])))]
        related = [s for k, s in self.subjects(seen).items() if k != subject.id]
        return Case(subject, related, recs, evs, [_link(r) for r in links.values()])

    def standing(self, policy: Policy, subject: Subject, as_of: date,
                 known_at: datetime | None = None) -> Standing:
        return standing_of(self, policy, subject, as_of, known_at)


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
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # a writer takes the write lock at once, so two writers queue instead of deadlocking
        immediate = conn.get_execution_options().get("xinyong_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _bulk_insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """executemany straight to the driver: SQLAlchemy's per-row parameter processing costs
    more than the insert itself at a million rows. Values are stored exactly as SQLAlchemy's
    types would store them, so reading through the tables gives the same Python values."""
    from operator import itemgetter

    cols = [c.name for c in table.columns if c.name in rows[0]]
    sqlite = conn.dialect.name == "sqlite"
    marks = ",".join("?" if sqlite else "%s" for _ in cols)
    names = ",".join(f'"{c}"' for c in cols)
    fix = [(i, f) for i, c in enumerate(cols)
           if (f := _converter(table.columns[c].type, sqlite)) is not None]
    get = itemgetter(*cols)
    params: list[Any] = []
    for r in rows:
        vals = list(get(r)) if len(cols) > 1 else [get(r)]
        for i, f in fix:
            vals[i] = f(vals[i])
        params.append(tuple(vals))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", params)


def _converter(kind: Any, sqlite: bool) -> Callable[[Any], Any] | None:
    """How a value is stored, memoised where values repeat (dates, transaction times)."""
    from sqlalchemy import JSON, Date, DateTime

    if isinstance(kind, JSON):
        if sqlite:
            return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
        from psycopg.types.json import Json

        return lambda v: None if v is None else Json(v)
    if sqlite and isinstance(kind, (DateTime, Date)):
        memo: dict[Any, str | None] = {None: None}
        style = "%Y-%m-%d %H:%M:%S.%f" if isinstance(kind, DateTime) else "%Y-%m-%d"

        def stored(v: Any) -> str | None:
            got = memo.get(v)
            if got is None and v is not None:
                got = memo[v] = v.strftime(style)
            return got

        return stored
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
