"""Checkpoints (the RFC 9162 Merkle root of the first N entries), verification of the whole
ledger, and inclusion proofs of records."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from xinyong import merkle
from xinyong.ledger import tables as t
from xinyong.ledger.audit import AuditLog
from xinyong.ledger.connection import _db_message
from xinyong.ledger.errors import LedgerError
from xinyong.ledger.payloads import GENESIS, ORDER, chain, payload_of
from xinyong.ledger.rows import _facts, _index


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries: int
    checkpoints: int
    audit_entries: int
    problem: str | None = None


class Checkpoints(AuditLog):
    """Checkpoints, verification and proofs."""

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
