"""The credit ledger: durable, append-only, hash-chained storage of credit facts.

Every fact (subject, identifier, link, record, record event) is written once, with a ledger
entry holding the RFC 9162 leaf hash of the fact's canonical payload (re-derived from the fact
row whenever it is needed) and a chain hash over all entries before it. Checkpoints hold the
Merkle root of the first N entries. Nothing is ever updated or deleted; the database refuses it
too.

The ledger is composed of its parts, one job each: ``connection`` (opening, transactions),
``writes`` (facts and the hash chain), ``hasher`` (the forked hasher), ``audit`` (the audit
log and its writer thread), ``proofs`` (checkpoints, verify, proofs), ``reads`` (subjects,
identifiers, neighbourhoods); ``payloads`` and ``rows`` hold canonical payloads and the
mapping between rows and the model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from xinyong.dataset import Case, standing_of, standings_of
from xinyong.ledger import tables as t
from xinyong.ledger.cases import load
from xinyong.ledger.connection import MIGRATIONS, default_url
from xinyong.ledger.errors import AlreadyIngested, Conflict, LedgerError
from xinyong.ledger.proofs import VerifyReport
from xinyong.ledger.reads import Reader, _chunks
from xinyong.ledger.writes import Batch, Writer, WriteResult
from xinyong.model import Standing, Subject
from xinyong.policy.model import Policy

__all__ = ["MIGRATIONS", "AlreadyIngested", "Batch", "Conflict", "Ledger", "LedgerError",
           "VerifyReport", "WriteResult", "default_url"]


class Ledger(Reader, Writer):
    """The store. ``Ledger.open(url)`` creates or upgrades the schema (Alembic)."""

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

    def due_process(self, case: Case, known_at: datetime) -> Any:
        """The platform's due-process state for a case's subjects: open objections and
        reviewers' confirmations recorded by ``known_at``."""
        from xinyong.process.workflow import due_state

        return due_state(self, [case.subject.id, *(s.id for s in case.related)], known_at)
