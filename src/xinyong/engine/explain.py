"""Explanations: the full chain from a measure down to the source records and the law.

measure ← clause ← memorandum ← list entry ← records ← legal basis, plus how it can be lifted,
what of it is under objection and whether it awaits a reviewer.
``explain`` returns plain data (JSON-ready); the command line renders it as text
(``xinyong.cli.render``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xinyong.engine.decide import decide, reason
from xinyong.model import Decision, ListEntry, Reason, Standing, list_key, record_key
from xinyong.policy.model import Policy


def cite(policy: Policy, ref: str) -> str:
    """A legal reference as text: 'Title (Number) Art. 3'."""
    law_id, _, article = ref.partition("#")
    law = policy.laws.get(law_id)
    if law is None:
        return ref
    text = law.title + (f" ({law.number})" if law.number else "")
    return f"{text} {article}".strip()


def _title(policy: Policy, section: str, ident: str, day: Any) -> str:
    view = policy.at(day)
    table: Mapping[str, Any] = {
        "measure": view.measures,
        "category": view.categories,
        "scheme": view.schemes,
        "memorandum": view.memoranda,
        "list_rule": view.list_rules,
        "agency": view.agencies,
    }[section]
    obj = table.get(ident)
    if obj is None:
        return ident
    return str(getattr(obj, "title", None) or getattr(obj, "name", ident))


def reason_data(policy: Policy, standing: Standing, r: Reason) -> dict[str, Any]:
    day = standing.as_of
    return {
        "measure": r.measure,
        "measure_title": _title(policy, "measure", r.measure, day),
        "kind": r.kind,
        "effect": r.effect,
        "overridden": r.overridden,
        "clause": r.clause,
        "memorandum": r.memorandum,
        "memorandum_number": r.memorandum_number,
        "memorandum_title": _title(policy, "memorandum", r.memorandum, day),
        "applied_by": r.applied_by,
        "list": r.list,
        "listed_subject": r.listed_subject,
        "via": list(r.via),
        "entry_start": r.entry_start.isoformat(),
        "entry_end": r.entry_planned_end.isoformat() if r.entry_planned_end else None,
        "records": [record_data(policy, standing, rid) for rid in r.records],
        "legal_basis": [cite(policy, b) for b in r.legal_basis],
        "lift": list(r.lift),
        "disputed": list(r.disputed),
        "pending_review": r.pending_review,
    }


def _entry_disputed(standing: Standing, e: ListEntry) -> bool:
    """The entry or a record behind it is under objection."""
    keys = standing.disputed
    return bool(keys) and (list_key(e.subject, e.list) in keys
                           or any(record_key(r) in keys for r in e.records))


def record_data(policy: Policy, standing: Standing, rid: str) -> dict[str, Any]:
    rec = standing.records.get(rid)
    if rec is None:
        return {"id": rid}
    return {
        "id": rec.id,
        "subject": rec.subject,
        "category": rec.category,
        "category_title": _title(policy, "category", rec.category, standing.as_of),
        "agency": rec.agency,
        "channel": rec.channel.value,
        "document_no": rec.document_no,
        "act_date": rec.act_date.isoformat(),
        "effective": rec.effective.isoformat(),
        "recorded_at": rec.recorded_at.isoformat(),
        "legal_basis": cite(policy, rec.legal_basis),
        "amounts": {k: str(v) for k, v in rec.amounts.items()},
        "disputed": record_key(rid) in standing.disputed,
        "events": [
            {"kind": e.kind.value, "effective": e.effective.isoformat(), "note": e.note}
            for e in standing.events.get(rid, ())
        ],
    }


def decision_data(policy: Policy, standing: Standing, d: Decision) -> dict[str, Any]:
    return {
        "subject": d.subject,
        "action": d.action,
        "on": d.on.isoformat(),
        "effect": d.effect.value,
        "measures": list(d.measures),
        "reasons": [reason_data(policy, standing, r) for r in d.reasons],
        "policy_version": standing.policy_version,
    }


def explain(policy: Policy, standing: Standing, action: str | None = None) -> dict[str, Any]:
    s = standing.subject
    day = standing.as_of
    data: dict[str, Any] = {
        "subject": {
            "id": s.id,
            "name": s.name,
            "kind": s.kind.value,
            "region": s.region,
            "identifiers": [str(i) for i in s.identifiers],
        },
        "as_of": day.isoformat(),
        "known_at": standing.known_at.isoformat(),
        "policy_version": standing.policy_version,
        "ratings": [
            {
                "scheme": r.scheme,
                "title": _title(policy, "scheme", r.scheme, day),
                "score": str(r.score),
                "band_grade": r.band_grade,
                "grade": r.grade,
                "public": r.public,
                "contributions": [
                    {
                        "indicator": c.indicator,
                        "value": str(c.value),
                        "points": str(c.points),
                        "records": list(c.records),
                        **({"waived": list(c.waived), "relieved_by": list(c.relieved_by)}
                           if c.waived else {}),
                    }
                    for c in r.contributions
                    if c.records or c.points or c.waived
                ],
                "adjustments": [
                    {
                        "rule": a.rule,
                        "kind": a.kind,
                        "grade": a.grade,
                        "records": list(a.records),
                        "via": list(a.via),
                        "legal_basis": [cite(policy, b) for b in a.legal_basis],
                    }
                    for a in r.adjustments
                ],
                "principal_reasons": list(r.principal_reasons),
                "withdrawn": _withdrawn(policy, r.scheme, r.period_end or day),
                "disputed": r.disputed,
                "period_end": r.period_end.isoformat() if r.period_end else None,
                "assessed_on": r.assessed_on.isoformat() if r.assessed_on else None,
                "reassessed_by": r.reassessed_by,
            }
            for r in standing.ratings.values()
        ],
        "list_entries": [
            {
                "list": e.list,
                "rule": e.rule,
                "title": _title(policy, "list_rule", e.rule, day),
                "status": e.status.value,
                "listed_on": e.listed_on.isoformat(),
                "start": e.start.isoformat(),
                "planned_end": e.planned_end.isoformat() if e.planned_end else None,
                "end": e.end.isoformat() if e.end else None,
                "end_reason": e.end_reason,
                "basis": e.basis,
                "records": [record_data(policy, standing, rid) for rid in e.records],
                "legal_basis": [cite(policy, b) for b in e.legal_basis],
                "lift": list(e.lift),
                "key": e.key,
                "disputed": _entry_disputed(standing, e),
            }
            for e in standing.entries
        ],
        "measures": [reason_data(policy, standing, r) for r in _unique_reasons(standing)],
        "displayed": [
            {"record": d.record, "category": d.category, "until": d.until.isoformat(),
             "repair_from": d.earliest_repair.isoformat(),
             "disputed": record_key(d.record) in standing.disputed}
            for d in standing.displayed
        ],
        "warnings": list(standing.warnings),
        "disputed": sorted(standing.disputed),
    }
    if action is not None:
        data["decision"] = decision_data(policy, standing, decide(standing, action))
    return data


def _withdrawn(policy: Policy, scheme: str, day: Any) -> list[dict[str, Any]]:
    """What a dated profile rule took out of the scheme version the rating was computed under."""
    version = policy.at(day).schemes.get(scheme)
    return [{"part": w.part, "id": w.id, "categories": list(w.categories),
             "since": w.since.isoformat(), "rule": w.rule, "reason": w.reason,
             "legal_basis": [cite(policy, b) for b in w.legal_basis]}
            for w in (version.withdrawn if version is not None else ())]


def _unique_reasons(standing: Standing) -> list[Reason]:
    return [reason(standing, m) for m in standing.measures]


def public_view(policy: Policy, standing: Standing) -> dict[str, Any]:
    """What the public portal shows of a subject: public grades, published list entries and
    records on display. Pending entries (in their grace period), entries whose listing notice
    has not been served, private or voluntary ratings, and individuals' administrative
    penalties are not shown. Items under objection carry ``disputed: true``; the objection
    itself is never shown."""
    s = standing.subject
    view = policy.at(standing.as_of)
    entries = []
    for e in standing.entries:
        rule = view.list_rules.get(e.rule)
        if rule is None or e.status.value != "active" or e.key in standing.unnoticed:
            continue
        if not (rule.public_persons if s.is_person else rule.public_organisations):
            continue
        entries.append({
            "list": e.list, "title": rule.title, "colour": rule.colour.value,
            "start": e.start.isoformat(),
            "planned_end": e.planned_end.isoformat() if e.planned_end else None,
            "authority": rule.authority,
            "disputed": _entry_disputed(standing, e),
        })
    ratings = []
    for r in standing.ratings.values():
        scheme = view.schemes.get(r.scheme)
        voluntary = scheme is not None and _voluntary(policy, scheme)
        if r.public and not voluntary:
            ratings.append({"scheme": r.scheme, "grade": r.grade, "disputed": r.disputed})
    return {
        "subject": {"id": s.id, "name": s.name, "kind": s.kind.value, "region": s.region},
        "as_of": standing.as_of.isoformat(),
        "ratings": ratings,
        "list_entries": entries,
        "displayed": [
            record_data(policy, standing, d.record) | {"until": d.until.isoformat()}
            for d in standing.displayed
        ],
    }


def _voluntary(policy: Policy, scheme: Any) -> bool:
    preset = policy.presets.get(policy.preset_of("scheme", scheme))
    return bool(preset and preset.voluntary)
