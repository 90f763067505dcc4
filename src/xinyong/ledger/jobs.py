"""Jobs: long work the service runs in its worker, kept in the ledger as working state so a job
and its result outlive the process. Every move of a job's state is a compare-and-set (from the
states it may leave), so a worker finishing late never overwrites a cancellation or the
interruption a restart or a shutdown recorded. Moves that carry an audit entry go through a
:class:`~xinyong.ledger.transaction.Transaction`; claiming and progress are the worker's own
bookkeeping."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from xinyong.ledger import tables as t
from xinyong.ledger.connection import Connected

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
UNFINISHED = ("queued", "running")


@contextlib.contextmanager
def _short_write(ledger: Connected) -> Iterator[Connection]:
    """A small write outside the ledger's write lock (a job row is nobody else's): SQLite takes
    its write lock at BEGIN (so the statement waits instead of failing), PostgreSQL locks the
    row."""
    with ledger.engine.connect().execution_options(xinyong_write=True) as conn, conn.begin():
        yield conn


# --- writes inside an audited transaction -----------------------------------------------------


def add_job(conn: Connection, kind: str, params: Mapping[str, Any], at: datetime,
            by: str) -> str:
    """A queued job in a write transaction (which serialises the numbering): JOB-000001 on."""
    n = conn.execute(select(func.count()).select_from(t.jobs)).scalar_one()
    job_id = f"JOB-{n + 1:06d}"
    conn.execute(insert(t.jobs), [{"id": job_id, "kind": kind, "params": dict(params),
                                   "state": "queued", "done": 0, "created_at": at,
                                   "created_by": by}])
    return job_id


def end_job(conn: Connection, job_id: str, state: str, at: datetime, *,
            result: Mapping[str, Any] | None = None, reason: str | None = None,
            leaving: tuple[str, ...] = ("running",)) -> bool:
    """Move the job to a final state if it is still in one of ``leaving``; whether it moved."""
    assert state in STATES and state not in UNFINISHED
    moved = conn.execute(update(t.jobs).where(t.jobs.c.id == job_id,
                                              t.jobs.c.state.in_(leaving))
                         .values(state=state, finished_at=at, reason=reason,
                                 result=None if result is None else dict(result)))
    return moved.rowcount > 0


def request_cancel(conn: Connection, job_id: str, by: str) -> bool:
    """Ask a running job to stop at its next step; whether it was running."""
    moved = conn.execute(update(t.jobs).where(t.jobs.c.id == job_id,
                                              t.jobs.c.state == "running")
                         .values(cancel_requested_by=by))
    return moved.rowcount > 0


def interrupt_unfinished(conn: Connection, at: datetime,
                         ids: Collection[str] | None = None) -> list[str]:
    """Mark every queued or running job (of ``ids`` if given) interrupted: the process that
    owned it stopped. A running one says how far it got, a queued one that it never started.
    The ids marked."""
    q = (select(t.jobs.c.id, t.jobs.c.state, t.jobs.c.done, t.jobs.c.total)
         .where(t.jobs.c.state.in_(UNFINISHED)).order_by(t.jobs.c.id))
    if ids is not None:
        q = q.where(t.jobs.c.id.in_(list(ids)))
    found = conn.execute(q).all()
    for row in found:
        reason = (f"the service stopped while the job ran ({row.done} of "
                  f"{row.total if row.total is not None else '?'} done); start it again"
                  if row.state == "running" else
                  "the service stopped before the job started; start it again")
        end_job(conn, row.id, "interrupted", at, reason=reason, leaving=(row.state,))
    return [row.id for row in found]


# --- the worker's bookkeeping --------------------------------------------------------------------


def claim(ledger: Connected, job_id: str, at: datetime) -> bool:
    """queued → running; False if the job is no longer queued (cancelled meanwhile)."""
    with _short_write(ledger) as conn:
        moved = conn.execute(update(t.jobs).where(t.jobs.c.id == job_id,
                                                  t.jobs.c.state == "queued")
                             .values(state="running", started_at=at))
        return moved.rowcount > 0


def progress(ledger: Connected, job_id: str, done: int, total: int) -> Any:
    """Record how far a running job got; the job's (state, cancel_requested_by) afterwards,
    so the worker learns of a cancellation asked for by any process."""
    with _short_write(ledger) as conn:
        conn.execute(update(t.jobs).where(t.jobs.c.id == job_id, t.jobs.c.state == "running")
                     .values(done=done, total=total))
        return conn.execute(select(t.jobs.c.state, t.jobs.c.cancel_requested_by)
                            .where(t.jobs.c.id == job_id)).first()


# --- reads ------------------------------------------------------------------------------------


def unfinished(ledger: Connected) -> int:
    """How many jobs are queued or running."""
    with ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.jobs)
                                .where(t.jobs.c.state.in_(UNFINISHED))).scalar_one())


def job(ledger: Connected, job_id: str) -> Any:
    """A job's row, with its result, or None."""
    with ledger.engine.connect() as conn:
        return conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()


def jobs(ledger: Connected, state: str | None = None, limit: int = 100) -> list[Any]:
    """Jobs without their results, newest first; only those in ``state`` if given."""
    cols = [c for c in t.jobs.c if c.name != "result"]
    q = select(*cols).order_by(t.jobs.c.id.desc()).limit(limit)
    if state is not None:
        q = q.where(t.jobs.c.state == state)
    with ledger.engine.connect() as conn:
        return list(conn.execute(q).all())
