"""Cases and their events in the store: objections (异议), repair applications (信用修复申请)
and human reviews. A case is filed once; every change of state is a new event; nothing is
updated. The state of a case at a transaction time is its last event by then. Which moves a
case may make is due process's rule (``process.cases``); this is how cases are kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from xinyong.ledger import tables as t
from xinyong.ledger.connection import Connected

PREFIX = {"objection": "OBJ", "repair": "REP", "review": "REV"}
OPEN = {"filed", "under_review", "applied", "pending"}


@dataclass(frozen=True)
class CaseEvent:
    status: str
    at: datetime
    actor: str
    note: str
    detail: dict[str, Any]


@dataclass
class Case:
    id: str
    kind: str
    subject: str
    target: str
    filed_by: str
    filed_at: datetime
    reason: str
    deadline: date | None
    detail: dict[str, Any]
    events: list[CaseEvent] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.events[-1].status

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def overdue(self, on: date) -> bool:
        return self.open and self.deadline is not None and on > self.deadline

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "subject": self.subject,
                "target": self.target, "status": self.status, "filed_by": self.filed_by,
                "filed_at": self.filed_at.isoformat(), "reason": self.reason,
                "deadline": self.deadline.isoformat() if self.deadline else None,
                "detail": self.detail,
                "events": [{"status": e.status, "at": e.at.isoformat(), "actor": e.actor,
                            "note": e.note, **({"detail": e.detail} if e.detail else {})}
                           for e in self.events]}


def open_case(conn: Connection, kind: str, subject: str, target: str, by: str, at: datetime,
              reason: str, deadline: date | None, status: str,
              detail: dict[str, Any] | None = None) -> str:
    """File a case inside a write transaction (which serialises the numbering)."""
    n = conn.execute(select(func.count()).select_from(t.cases)
                     .where(t.cases.c.kind == kind)).scalar_one()
    case_id = f"{PREFIX[kind]}-{n + 1:06d}"
    conn.execute(insert(t.cases), [{"id": case_id, "kind": kind, "subject": subject,
                                    "target": target, "filed_by": by, "filed_at": at,
                                    "reason": reason, "deadline": deadline,
                                    "detail": detail or {}}])
    add_event(conn, case_id, status, at, by, "")
    return case_id


def add_event(conn: Connection, case_id: str, status: str, at: datetime, actor: str, note: str,
              detail: dict[str, Any] | None = None) -> None:
    conn.execute(insert(t.case_events), [{"case": case_id, "status": status, "at": at,
                                          "actor": actor, "note": note,
                                          "detail": detail or {}}])


def load(ledger: Connected, *, case_id: str | None = None, subjects: list[str] | None = None,
         kind: str | None = None, known_at: datetime | None = None,
         conn: Connection | None = None) -> list[Case]:
    """Cases with their events recorded by ``known_at`` (default: all), oldest first."""
    q = select(t.cases).order_by(t.cases.c.filed_at, t.cases.c.id)
    if case_id is not None:
        q = q.where(t.cases.c.id == case_id)
    if subjects is not None:
        q = q.where(t.cases.c.subject.in_(subjects))
    if kind is not None:
        q = q.where(t.cases.c.kind == kind)
    if known_at is not None:
        q = q.where(t.cases.c.filed_at <= known_at)

    def run(c: Connection) -> list[Case]:
        found = {r.id: Case(r.id, r.kind, r.subject, r.target, r.filed_by, r.filed_at,
                            r.reason, r.deadline, dict(r.detail)) for r in c.execute(q)}
        if not found:
            return []
        eq = select(t.case_events).where(t.case_events.c.case.in_(list(found))) \
            .order_by(t.case_events.c.id)
        if known_at is not None:
            eq = eq.where(t.case_events.c.at <= known_at)
        for e in c.execute(eq):
            found[e.case].events.append(CaseEvent(e.status, e.at, e.actor, e.note,
                                                  dict(e.detail)))
        return [k for k in found.values() if k.events]

    if conn is not None:
        return run(conn)
    with ledger.engine.connect() as c:
        return run(c)


def targets(ledger: Connected, kind: str) -> set[str]:
    """What the cases of a kind were filed against (e.g. the entries already under review)."""
    with ledger.engine.connect() as conn:
        return {r.target for r in conn.execute(
            select(t.cases.c.target).where(t.cases.c.kind == kind))}


# --- notices -------------------------------------------------------------------------------


def notices(ledger: Connected, *, recipient: str | None = None,
            subject: str | None = None) -> list[dict[str, Any]]:
    q = select(t.notices).order_by(t.notices.c.created_at, t.notices.c.id)
    if recipient is not None:
        q = q.where(t.notices.c.recipient == recipient)
    if subject is not None:
        q = q.where(t.notices.c.subject == subject)
    with ledger.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def notice_ids(ledger: Connected) -> set[str]:
    """The ids of every notice served (a notice is served once)."""
    with ledger.engine.connect() as conn:
        return {r.id for r in conn.execute(select(t.notices.c.id))}

