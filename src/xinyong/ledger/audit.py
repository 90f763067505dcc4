"""The audit log (审计日志): who did what, when and why, hash-chained; written in the caller's
write transaction, or queued for the writer thread, which commits the entries of many
requests in one transaction (group commit)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from xinyong import merkle
from xinyong.ledger import tables as t
from xinyong.ledger.connection import Connected, _db_message
from xinyong.ledger.errors import LedgerError
from xinyong.ledger.payloads import (
    _ENCODE,
    _STR,
    GENESIS,
    _canonical_fast,
    _iso,
    canonical,
    chain,
)
from xinyong.ledger.transaction import Transaction


class AuditLog(Connected):
    """Appending to the audit log and checking its chain."""

    @contextlib.contextmanager
    def transaction(self, actor: str, action: str, subject: str | None = None,
                    detail: Mapping[str, Any] | None = None) -> Iterator[Transaction]:
        """A write transaction under the write lock that ends with its audit entry (who,
        what, about whom, ``tx.detail``): both commit, or neither (see ``transaction``)."""
        with self._writing() as conn:
            tx = self._transaction(conn, dict(detail or {}))
            yield tx
            self._audit(conn, actor, action, subject, tx.detail)

    def _transaction(self, conn: Connection, detail: dict[str, Any] | None) -> Transaction:
        return Transaction(conn, detail)

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
