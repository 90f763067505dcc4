"""Validation of a population against the policy before anything is evaluated.

Every bad row is reported (file, row, record, field, reason); nothing is evaluated if one is
bad. Only catalog categories, from agencies competent for them, about subjects of the kinds
they apply to, with valid identifiers, may be used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xinyong.ids import InvalidIdentifier
from xinyong.model import Link, Record, RecordEvent, Subject
from xinyong.policy.model import Policy


@dataclass(frozen=True, slots=True)
class RowProblem:
    file: str
    row: int
    key: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row} ({self.key}) field {self.field}: {self.reason}"


def check_population(policy: Policy, subjects: Iterable[Subject], links: Iterable[Link],
                     records: Iterable[Record], events: Iterable[RecordEvent]) -> list[RowProblem]:
    out: list[RowProblem] = []
    kinds: dict[str, str] = {}
    for i, s in enumerate(subjects, 1):
        kinds[s.id] = s.kind.value
        for ident in s.identifiers:
            try:
                policy.identifier(ident.scheme.value, ident.value)
            except InvalidIdentifier as bad:
                out.append(RowProblem("subjects.parquet", i, s.id, "identifiers", str(bad)))
    for i, lk in enumerate(links, 1):
        for side in (lk.organisation, lk.party):
            if side not in kinds:
                out.append(RowProblem("links.parquet", i, f"{lk.organisation}/{lk.party}",
                                      "organisation/party", f"unknown subject {side!r}"))
    ids: set[str] = set()
    for i, r in enumerate(records, 1):
        ids.add(r.id)
        f = "records.parquet"
        cat = policy.at(r.effective).categories.get(r.category)
        if r.subject not in kinds:
            out.append(RowProblem(f, i, r.id, "subject", f"unknown subject {r.subject!r}"))
        if cat is None:
            out.append(RowProblem(f, i, r.id, "category",
                                  f"{r.category!r} is not in the catalog on {r.effective}; "
                                  "only catalog categories may be recorded"))
            continue
        if r.subject in kinds and kinds[r.subject] not in cat.subject_kinds:
            out.append(RowProblem(f, i, r.id, "subject",
                                  f"{r.category} applies to {', '.join(cat.subject_kinds)}, "
                                  f"not to a {kinds[r.subject]}"))
        if r.agency not in cat.agencies:
            out.append(RowProblem(f, i, r.id, "agency",
                                  f"{r.agency!r} may not submit {r.category} (competent: "
                                  f"{', '.join(cat.agencies)})"))
        for name, value in r.amounts.items():
            if name not in cat.amounts or policy.sensitive.find(name):
                out.append(RowProblem(f, i, r.id, f"amounts.{name}",
                                      f"not an amount of {r.category}"))
            elif value < 0:
                out.append(RowProblem(f, i, r.id, f"amounts.{name}", "negative amount"))
        if not r.document_no or not r.legal_basis:
            out.append(RowProblem(f, i, r.id, "document_no/legal_basis",
                                  "a record needs the agency's document number and legal basis"))
    for i, e in enumerate(events, 1):
        if e.record not in ids:
            out.append(RowProblem("events.parquet", i, e.id, "record",
                                  f"unknown record {e.record!r}"))
    return out
