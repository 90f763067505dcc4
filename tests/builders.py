"""Small constructors for hand-worked cases."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from xinyong.ids import make_ric, make_uscc, validate
from xinyong.model import EventKind, Link, LinkRole, Record, RecordEvent, Subject, SubjectKind

_seq = count(1)


def person(sid: str, name: str = "张三", region: str = "110101",
           opt_ins: tuple[tuple[str, date], ...] = ()) -> Subject:
    ric = make_ric(region, "19950101", next(_seq) % 1000)
    return Subject(sid, SubjectKind.PERSON, name, region, (validate("cn-ric", ric),),
                   opt_ins=opt_ins)


def firm(sid: str, name: str = "某某有限公司", registered: date = date(2010, 5, 1)) -> Subject:
    body = f"{next(_seq):08d}"
    code = make_uscc("9", "1", "110101", body)
    return Subject(sid, SubjectKind.ENTERPRISE, name, "110101", (validate("cn-uscc", code),),
                   registered=registered)


def at(d: date, hour: int = 9) -> datetime:
    return datetime.combine(d, time(hour))


def record(rid: str, subject: str, category: str, effective: date, *, agency: str = "courts",
           recorded: datetime | None = None, **amounts: int | str) -> Record:
    return Record(
        id=rid, subject=subject, category=category, agency=agency, act_date=effective,
        effective=effective, document_no=f"DOC-{rid}", legal_basis="civil-procedure-law",
        recorded_at=recorded or at(effective), amounts={k: Decimal(str(v)) for k, v in
                                                        amounts.items()},
    )


def event(eid: str, rid: str, kind: str, effective: date,
          recorded: datetime | None = None) -> RecordEvent:
    return RecordEvent(eid, rid, EventKind(kind), effective, recorded or at(effective, 10))


def link(org: str, party: str, role: str, start: date = date(2015, 1, 1),
         end: date | None = None, recorded: datetime | None = None) -> Link:
    return Link(org, party, LinkRole(role), start, end, recorded)


class Clock:
    """A ledger's clock that a test moves: ``set`` to a moment, or ``advance`` by days."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, days: int) -> None:
        # a new day starts at 9:00; steps on the same day are a minute apart
        self.now = max(self.now + timedelta(minutes=1),
                       datetime.combine(self.now.date() + timedelta(days=days), time(9)))

    @property
    def today(self) -> date:
        return self.now.date()


def listed_debtor(url: str, policy: Any, e1: Subject, p1: Subject, p2: Subject) -> Any:
    """A ledger (clock at 12 Feb 2024, 9:00) where firm E1 is a listed debtor from 10 Feb 2024
    (R1, a refusal to perform effective 10 Jan, one month of grace), P1 its legal
    representative (the air-ticket ban reaches P1, confirmed by a reviewer) and P2 has
    nothing. The caller disposes of it."""
    from xinyong.ledger.cases import load
    from xinyong.ledger.store import Batch, Ledger
    from xinyong.process.workflow import resolve, tick

    led = Ledger.open(url, clock=lambda: datetime(2024, 2, 12, 9))
    led.write(Batch(subjects=[e1, p1, p2], links=[link("E1", "P1", "legal_representative")],
                    records=[record("R1", "E1", "judicial.debtor.refuses_to_perform",
                                    date(2024, 1, 10))]))
    tick(led, policy)
    for case in load(led, kind="review"):
        resolve(led, policy, case.id, "confirmed", "checked", "reviewer:王芳")
    return led


def finished_job(client: Any, headers: dict[str, str], job: dict[str, Any],
                 within: float = 30.0) -> dict[str, Any]:
    """Poll a job over HTTP (``GET /admin/jobs/{id}``) until it has ended; its document.
    Fails after ``within`` seconds: a job never runs unbounded in a test."""
    import time as clock

    deadline = clock.monotonic() + within
    while True:
        got = client.get(job["links"]["self"], headers=headers)
        assert got.status_code == 200, got.text
        doc: dict[str, Any] = got.json()
        if doc["state"] not in ("queued", "running"):
            return doc
        assert clock.monotonic() < deadline, f"job {job['id']} still {doc['state']}: {doc}"
        clock.sleep(0.02)


def impact_result(client: Any, headers: dict[str, str], version: str,
                  on: str) -> dict[str, Any]:
    """Start the impact job of ``version`` on ``on`` (``POST …/impact``), wait for it, and
    return its result; the job must end ``done``."""
    started = client.post(f"/admin/policies/{version}/impact?on={on}", headers=headers)
    assert started.status_code == 202, started.text
    assert started.headers["location"] == f"/admin/jobs/{started.json()['id']}"
    doc = finished_job(client, headers, started.json())
    assert doc["state"] == "done", doc
    assert doc["progress"]["done"] == doc["progress"]["total"]
    result: dict[str, Any] = doc["result"]
    return result
