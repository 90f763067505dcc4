"""Facts between the model and the tables: a model value as the row stored for it, and a
stored row as the model value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from xinyong.ids import Identifier, IdScheme
from xinyong.ledger.payloads import FACTS, amount_text, ref_of
from xinyong.model import (
    Channel,
    EventKind,
    Link,
    LinkRole,
    Record,
    RecordEvent,
    Subject,
    SubjectKind,
)


def subject_row(s: Subject, at: datetime) -> dict[str, Any]:
    return {"id": s.id, "kind": s.kind.value, "name": s.name, "region": s.region,
            "registered": s.registered,
            "opt_ins": [[p, d.isoformat()] for p, d in s.opt_ins], "recorded_at": at}


def record_row(r: Record, at: datetime, ingest: str | None = None) -> dict[str, Any]:
    return {"id": r.id, "subject": r.subject, "category": r.category, "agency": r.agency,
            "act_date": r.act_date, "effective": r.effective, "document_no": r.document_no,
            "legal_basis": r.legal_basis,
            "amounts": {k: amount_text(v) for k, v in r.amounts.items()},
            "recorded_at": at, "ingest": ingest, "channel": r.channel.value}


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
                  {k: Decimal(v) for k, v in row.amounts.items()}, Channel(row.channel))


def _event(row: Any) -> RecordEvent:
    return RecordEvent(row.id, row.record, EventKind(row.kind), row.effective, row.recorded_at,
                       row.note, {k: Decimal(v) for k, v in row.amounts.items()})


def _link(row: Any) -> Link:
    return Link(row.organisation, row.party, LinkRole(row.role), row.start, row.end,
                row.recorded_at)


# --- stored fact rows ----------------------------------------------------------------------


def _facts(conn: Connection, kind: str, refs: set[str]) -> list[dict[str, Any]]:
    """The stored fact rows with these refs."""
    table, keys, _ = FACTS[kind]
    out = []
    wanted = sorted(refs)
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        if len(keys) == 1:
            q = select(table).where(table.c[keys[0]].in_(chunk))
        else:  # (scheme, value): narrow by value, then match the whole ref
            q = select(table).where(table.c[keys[1]].in_([r.split(":", 1)[1] for r in chunk]))
        out += [d for row in conn.execute(q) if ref_of(kind, d := dict(row._mapping)) in refs]
    return out


def _index(conn: Connection, kind: str) -> dict[str, dict[str, Any]]:
    table, keys, _ = FACTS[kind]
    out = {}
    for row in conn.execute(select(table)):
        d = dict(row._mapping)
        out[":".join(str(d[k]) for k in keys)] = d
    return out
