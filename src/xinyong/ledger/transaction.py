"""The ledger's public write transaction. It holds the write lock and ends with its audit
entry, so what was done and the record of who did it commit together or not at all:

    with ledger.transaction("subject:P1", "objection.file", "P1") as tx:
        case_id = tx.open_case(...)
        tx.detail["case"] = case_id   # known only inside: the entry is written at the end
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, update

from xinyong.ledger import cases, jobs, platform
from xinyong.ledger import tables as t
from xinyong.ledger.errors import LedgerError

if TYPE_CHECKING:
    from xinyong.ledger.batch import Batch, WriteResult


class Transaction:
    """Writes of due process and of the platform's own state inside one write transaction.
    ``detail`` is the audit entry's detail; the block may add to it."""

    def __init__(self, conn: Connection, detail: dict[str, Any] | None = None,
                 append: Callable[[Batch, datetime], WriteResult] | None = None):
        self.conn = conn
        self.detail: dict[str, Any] = dict(detail or {})
        self._append = append

    # -- facts ---------------------------------------------------------------------------

    def write(self, batch: Batch, at: datetime) -> WriteResult:
        """Append facts in this transaction, as ``Ledger.write`` does (without a checkpoint)."""
        if self._append is None:
            raise LedgerError("this transaction cannot write facts")
        return self._append(batch, at)

    def close_review(self, item: int, status: str, reviewer: str, at: datetime,
                     decision: Mapping[str, Any]) -> None:
        """Resolve a review queue item: linked or rejected, by whom, when and how."""
        self.conn.execute(update(t.review_queue).where(t.review_queue.c.id == item).values(
            status=status, decided_by=reviewer, decided_at=at, decision=dict(decision)))

    # -- due process --------------------------------------------------------------------

    def open_case(self, kind: str, subject: str, target: str, by: str, at: datetime,
                  reason: str, deadline: date | None, status: str,
                  detail: dict[str, Any] | None = None) -> str:
        """File a case (objection, repair or review) with its first event; its id."""
        return cases.open_case(self.conn, kind, subject, target, by, at, reason, deadline,
                               status, detail)

    def add_case_event(self, case_id: str, status: str, at: datetime, actor: str, note: str,
                       detail: dict[str, Any] | None = None) -> None:
        cases.add_event(self.conn, case_id, status, at, actor, note, detail)

    def add_notices(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(insert(t.notices), list(rows))

    # -- the platform's own state -------------------------------------------------------

    def add_user(self, row: dict[str, Any]) -> None:
        platform.add_user(self.conn, row)

    def add_policy_version(self, row: dict[str, Any]) -> str:
        return platform.add_policy_version(self.conn, row)

    def activate_policy_version(self, version: str, at: datetime, by: str) -> None:
        platform.activate_policy_version(self.conn, version, at, by)

    # -- jobs ----------------------------------------------------------------------------

    def add_job(self, kind: str, params: Mapping[str, Any], at: datetime, by: str) -> str:
        return jobs.add_job(self.conn, kind, params, at, by)

    def end_job(self, job_id: str, state: str, at: datetime, *,
                result: Mapping[str, Any] | None = None, reason: str | None = None,
                leaving: tuple[str, ...] = ("running",)) -> bool:
        return jobs.end_job(self.conn, job_id, state, at, result=result, reason=reason,
                            leaving=leaving)

    def request_cancel(self, job_id: str, by: str) -> bool:
        return jobs.request_cancel(self.conn, job_id, by)

    def interrupt_jobs(self, at: datetime, ids: Collection[str] | None = None) -> list[str]:
        return jobs.interrupt_unfinished(self.conn, at, ids)
