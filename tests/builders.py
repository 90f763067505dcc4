"""Small constructors for hand-worked cases."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from itertools import count

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
