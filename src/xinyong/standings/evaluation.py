"""Standings from a ``Source``: one subject or many, each with the neighbourhood the policy
needs (its longest link path) and the due-process state of that neighbourhood."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from xinyong.engine import evaluate
from xinyong.model import DueProcess, Standing, Subject
from xinyong.policy.model import Policy
from xinyong.standings.source import Neighbourhood, Source


def standing(source: Source, policy: Policy, subject: Subject, as_of: date,
             known_at: datetime | None = None) -> Standing:
    """The subject's standing on ``as_of``, on what the source held at ``known_at``
    (default: everything)."""
    return standings(source, policy, [subject], as_of, known_at)[subject.id]


def standings(source: Source, policy: Policy, subjects: Iterable[Subject], as_of: date,
              known_at: datetime | None = None) -> dict[str, Standing]:
    """``standing`` for many subjects on one date, by subject id, their neighbourhoods and
    due-process state read in bulk."""
    hoods = source.neighbourhoods(subjects, max(1, policy.at(as_of).max_path))
    due = due_states(source, hoods.values(), known_at or datetime.combine(as_of, time.max))
    return {sid: assess(policy, h, as_of, known_at, due[sid]) for sid, h in hoods.items()}


def assess(policy: Policy, hood: Neighbourhood, as_of: date, known_at: datetime | None,
           due: DueProcess | None) -> Standing:
    """Evaluate a neighbourhood already read, with its due-process state."""
    return evaluate(policy, hood.subject, hood.records, hood.events, hood.links, as_of,
                    related=hood.related, known_at=known_at, due=due)


def due_states(source: Source, hoods: Iterable[Neighbourhood],
               known_at: datetime) -> dict[str, DueProcess | None]:
    """The due-process state of each neighbourhood, by subject id: open objections,
    reviewers' confirmations and listing notices served by ``known_at`` about any subject
    in it, read for all of them at once. None where the source keeps no due process."""
    hoods = list(hoods)
    everyone = sorted({s for h in hoods for s in (h.subject.id, *(r.id for r in h.related))})
    facts = source.due_facts(everyone, known_at)
    if facts is None:
        return {h.subject.id: None for h in hoods}
    none = DueProcess(frozenset(), frozenset(), frozenset())
    out: dict[str, DueProcess | None] = {}
    for h in hoods:
        parts = [facts.get(i, none) for i in (h.subject.id, *(r.id for r in h.related))]
        out[h.subject.id] = DueProcess(
            frozenset().union(*(p.disputed for p in parts)),
            frozenset().union(*(p.confirmed for p in parts)),
            frozenset().union(*(p.noticed or () for p in parts)))
    return out
