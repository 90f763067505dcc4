"""The service's worker for long work (the admin impact analysis): a bounded pool of threads
owned by the service, each job's state kept in the ledger (``xinyong.ledger.jobs``).

A job is queued when it is started, claimed by the worker, reports its progress after each
step (and learns there whether it was asked to stop), and ends done with its result, failed
with the reason, or cancelled. At start the service marks every job still queued or running
interrupted: the process that owned it stopped, so it is never left running forever. On a
clean shutdown the service marks its own unfinished jobs interrupted at once."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from xinyong.ledger import jobs as stored
from xinyong.ledger.store import Ledger, LedgerError
from xinyong.service.core import Invalid, NotFound

log = logging.getLogger(__name__)

WORKERS = 1
"""Jobs running at once. An impact job keeps one core busy; on the 2 cores the service is
sized for, the other is left to requests, and further jobs wait in the queue."""

Step = Callable[[int, int], None]
"""``step(done, total)``: a job's progress report; raises to stop the job."""
Work = Callable[[Step], dict[str, Any]]
"""A job's work: given its step, the result document."""


class Cancelled(Exception):
    def __init__(self, by: str):
        super().__init__(f"cancelled by {by}")


class _Gone(Exception):
    """The job was ended elsewhere (interrupted by a shutdown or a restart): stop quietly."""


def document(row: Any, result: bool = True) -> dict[str, Any]:
    """A job as the API shows it: state, progress, who started it and when, why it ended
    (failed, cancelled, interrupted) and, once done, its result."""
    def iso(v: Any) -> str | None:
        return v.isoformat() if v is not None else None

    doc: dict[str, Any] = {
        "id": row.id, "kind": row.kind, "state": row.state, "params": dict(row.params),
        "progress": {"done": row.done, "total": row.total},
        "created_at": iso(row.created_at), "created_by": row.created_by,
        "started_at": iso(row.started_at), "finished_at": iso(row.finished_at),
        "reason": row.reason, "cancel_requested_by": row.cancel_requested_by,
        "links": {"self": f"/admin/jobs/{row.id}", "jobs": "/admin/jobs"}}
    if result:
        doc["result"] = row.result
    return doc


class Jobs:
    """The worker pool and the jobs this process runs. Making one marks the jobs an earlier
    process left unfinished interrupted."""

    def __init__(self, ledger: Ledger, workers: int = WORKERS):
        self.ledger, self.workers = ledger, workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._mine: set[str] = set()
        """Jobs submitted here and not yet ended."""
        if stored.unfinished(ledger):
            with ledger.transaction("platform", "jobs.interrupted", None,
                                    {"why": "the service started"}) as tx:
                tx.detail["jobs"] = tx.interrupt_jobs(ledger.clock())

    # -- reads ------------------------------------------------------------------------------

    def row(self, job_id: str) -> Any:
        found = stored.job(self.ledger, job_id)
        if found is None:
            raise NotFound(f"no job {job_id!r}; GET /admin/jobs lists them")
        return found

    # -- running ----------------------------------------------------------------------------

    def open(self) -> None:
        """Refuse to start a job once the service is stopping."""
        if self._stopping.is_set():
            raise Invalid("the service is stopping and starts no job; start it again once "
                          "the service is back", [])

    def submit(self, job_id: str, work: Work,
               summary: Callable[[Mapping[str, Any]], dict[str, Any]]) -> None:
        """Queue a job recorded as queued; ``summary(result)`` is the detail of the audit
        entry that records it done. Should the service have begun stopping meanwhile, the
        job is marked interrupted at once."""
        with self._lock:
            if self._stopping.is_set():
                with self.ledger.transaction("platform", "jobs.interrupted", None,
                                             {"why": "the service stopped"}) as tx:
                    tx.detail["jobs"] = tx.interrupt_jobs(self.ledger.clock(), [job_id])
                self.open()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="xinyong-job")
            self._mine.add(job_id)
            self._pool.submit(self._run, job_id, work, summary)

    def cancel(self, actor: str, job_id: str) -> dict[str, Any]:
        """Cancel a queued job at once, or ask a running one to stop at its next step (it ends
        cancelled then). The job's document, with ``state`` as it is now."""
        self.row(job_id)
        now = self.ledger.clock()
        with self.ledger.transaction(actor, "jobs.cancel", None, {"job": job_id}) as tx:
            if tx.end_job(job_id, "cancelled", now, reason=f"cancelled by {actor} before it "
                          "started", leaving=("queued",)):
                tx.detail["was"] = "queued"
            elif tx.request_cancel(job_id, actor):
                tx.detail["was"] = "running"
            else:
                state = self.row(job_id).state
                raise Invalid(f"job {job_id} is {state}: only a queued or running job can be "
                              "cancelled", [{"pointer": "/path/job",
                                             "detail": f"the job is already {state}"}])
        return document(self.row(job_id))

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking jobs; mark this process's unfinished ones interrupted. A running job
        stops at its next step without writing anything more; ``wait`` waits for that."""
        with self._lock:
            self._stopping.set()
            pool, mine = self._pool, sorted(self._mine)
            self._mine.clear()
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)
        if mine:
            try:
                with self.ledger.transaction("platform", "jobs.interrupted", None,
                                             {"why": "the service stopped"}) as tx:
                    tx.detail["jobs"] = tx.interrupt_jobs(self.ledger.clock(), mine)
            except LedgerError:  # the next start marks them
                log.exception("could not mark the jobs %s interrupted", mine)

    def _run(self, job_id: str, work: Work,
             summary: Callable[[Mapping[str, Any]], dict[str, Any]]) -> None:
        try:
            if self._stopping.is_set() or not stored.claim(self.ledger, job_id,
                                                           self.ledger.clock()):
                return  # cancelled while queued, or the service is stopping
            try:
                result = work(lambda done, total: self._step(job_id, done, total))
            except _Gone:
                return
            except Cancelled as e:
                self._end(job_id, "cancelled", reason=str(e))
            except (LedgerError, Invalid, NotFound) as e:
                self._end(job_id, "failed", reason=str(e))
            except Exception as e:
                log.exception("job %s failed", job_id)
                self._end(job_id, "failed", reason=f"unexpected fault ({type(e).__name__}); "
                          "nothing was changed. The server log has the cause: report the "
                          "job's id to the operator")
            else:
                self._end(job_id, "done", result=result, detail=summary(result))
        except Exception:  # the ledger itself is gone (closed, unreachable): the next start
            log.exception("job %s could not record its end; the next start marks it "
                          "interrupted", job_id)
        finally:
            with self._lock:
                self._mine.discard(job_id)

    def _step(self, job_id: str, done: int, total: int) -> None:
        if self._stopping.is_set():
            raise _Gone
        now = stored.progress(self.ledger, job_id, done, total)
        if now is None or now.state != "running":
            raise _Gone
        if now.cancel_requested_by:
            raise Cancelled(now.cancel_requested_by)

    def _end(self, job_id: str, state: str, *, result: Mapping[str, Any] | None = None,
             reason: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        """The job's last move and its audit entry, together; nothing if it was ended
        elsewhere meanwhile."""
        with contextlib.suppress(_Gone), self.ledger.transaction(
                "platform", f"jobs.{state}", None,
                {"job": job_id, **({"reason": reason} if reason else {}),
                 **(detail or {})}) as tx:
            if not tx.end_job(job_id, state, self.ledger.clock(), result=result,
                              reason=reason):
                raise _Gone
