"""The facts as evaluation sees them on one day: the inputs known by a transaction time, and
dated views of them (record states with their events, links in force). Also the link walks
and window arithmetic every part of evaluation shares. Internal to the engine; pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from xinyong.model import EventKind, Link, ListEntry, Rating, Record, RecordEvent, Subject
from xinyong.periods import Period
from xinyong.policy.model import Policy, PolicyView
from xinyong.policy.schema import AmountTest, ListRule, Relief


@dataclass(slots=True)
class RecordState:
    record: Record
    amounts: Mapping[str, Decimal]
    rectified: date | None = None
    repairs: list[date] = field(default_factory=list)
    """Every repair event, valid or not: each list rule judges them against its own minimum."""
    repaired: date | None = None
    """The first repair valid for the record itself (scores and public display)."""
    revoked: date | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    """The facts known by ``known``, each record once: what every dated view is built from."""

    records: tuple[Record, ...]
    """In (effective, id) order."""
    events: Mapping[str, tuple[RecordEvent, ...]]
    """Per record, in (effective, recorded_at, id) order."""
    links: tuple[Link, ...]
    known: datetime


@dataclass
class Context:
    policy: Policy
    view: PolicyView
    as_of: date
    subjects: Mapping[str, Subject]
    states: Mapping[str, list[RecordState]]
    org_links: Mapping[str, list[Link]]
    party_links: Mapping[str, list[Link]]
    warnings: list[str]
    inputs: Inputs
    confirmed: frozenset[str] | None = None
    """Entries confirmed by a reviewer; None without due process (nothing is pending)."""
    period_end: date | None = None
    """Set in the view of a published rating's year: ratings inside it are computed plainly."""
    entries: dict[str, tuple[ListEntry, ...]] = field(default_factory=dict)
    ratings: dict[str, dict[str, Rating]] = field(default_factory=dict)
    runs: dict[tuple[str, str], list[GradeRun]] = field(default_factory=dict)
    by_category: dict[tuple[str, tuple[str, ...]], list[RecordState]] = field(
        default_factory=dict)


class GradeRun(NamedTuple):
    """A maximal interval over which a subject's grade under a scheme stayed in one set."""

    start: date
    end: date | None
    grade: str
    records: tuple[str, ...]


def known_inputs(records: Iterable[Record], events: Iterable[RecordEvent],
                  links: Iterable[Link], subjects: Mapping[str, Subject], known: datetime,
                  warnings: list[str]) -> Inputs:
    first: dict[str, Record] = {}
    for r in sorted(records, key=lambda r: (r.recorded_at, r.id)):
        if r.recorded_at > known or r.subject not in subjects:
            continue
        if r.id in first:  # the same record handed in twice counts once
            if first[r.id] != r:
                warnings.append(f"record {r.id} given twice with different content; "
                                "the first recorded is used")
            continue
        first[r.id] = r
    by_record: dict[str, list[RecordEvent]] = defaultdict(list)
    for ev in events:
        if ev.recorded_at <= known and ev.record in first:
            by_record[ev.record].append(ev)
    return Inputs(
        records=tuple(sorted(first.values(), key=lambda r: (r.effective, r.id))),
        events={k: tuple(sorted(v, key=lambda e: (e.effective, e.recorded_at, e.id)))
                for k, v in by_record.items()},
        links=tuple(lk for lk in links if lk.recorded_at is None or lk.recorded_at <= known),
        known=known,
    )


def view_on(policy: Policy, subjects: Mapping[str, Subject], inputs: Inputs, on: date, *,
             warnings: list[str], confirmed: frozenset[str] | None = None,
             events_on: date | None = None, revoked_on: date | None = None,
             cut: datetime | None = None, period_end: date | None = None,
             categories: frozenset[str] | None = None) -> Context:
    """The view of the facts on ``on``: records in effect by then, events by ``events_on``
    (default ``on``), revocations by ``revoked_on`` (default ``on``; a record revoked by then
    is treated as never having existed), everything recorded by ``cut`` (default: all), and
    only records of ``categories`` if given (a view for one rating needs no others)."""
    events_on = events_on or on
    revoked_on = revoked_on or on
    states: dict[str, list[RecordState]] = defaultdict(list)
    for r in inputs.records:
        if r.effective > on:
            break  # records are in effective order
        if (cut is not None and r.recorded_at > cut) or (
                categories is not None and r.category not in categories):
            continue
        st = RecordState(r, r.amounts)
        for ev in inputs.events.get(r.id, ()):
            if ev.kind is EventKind.REVOKED:
                if ev.effective <= revoked_on:
                    st.revoked = st.revoked or ev.effective
            elif ev.effective > events_on or (cut is not None and ev.recorded_at > cut):
                continue
            elif ev.kind is EventKind.RECTIFIED:
                st.rectified = st.rectified or ev.effective
            elif ev.kind is EventKind.REPAIRED:
                st.repairs.append(ev.effective)
            elif ev.kind is EventKind.CORRECTED and ev.amounts:
                st.amounts = {**st.amounts, **ev.amounts}
        if st.revoked is None:
            states[r.subject].append(st)
    for sid, lst in states.items():
        for st in lst:  # after every record is known: a relief may change a rule's grace
            if st.repairs:
                st.repaired = _valid_repair(policy, subjects[sid], st, lst)
    org_links: dict[str, list[Link]] = defaultdict(list)
    party_links: dict[str, list[Link]] = defaultdict(list)
    for link in inputs.links:
        if link.holds_on(on) and (cut is None or link.recorded_at is None
                                  or link.recorded_at <= cut):
            org_links[link.organisation].append(link)
            party_links[link.party].append(link)
    return Context(policy, policy.at(on), on, subjects, states, org_links, party_links,
                    warnings, inputs, confirmed, period_end)


def _step(ctx: Context, ids: set[str], step: str) -> set[str]:
    out: set[str] = set()
    if step.endswith("_of"):
        role = step[:-3]
        for i in ids:
            out.update(lk.organisation for lk in ctx.party_links.get(i, ()) if lk.role == role)
    else:
        for i in ids:
            out.update(lk.party for lk in ctx.org_links.get(i, ()) if lk.role == step)
    return out


def reachable(ctx: Context, start: str, path: str) -> set[str]:
    ids = {start}
    for step in path.split("/"):
        ids = _step(ctx, ids, step)
    ids.discard(start)
    return ids


def reverse_path(path: str) -> str:
    steps = path.split("/")[::-1]
    return "/".join(s[:-3] if s.endswith("_of") else f"{s}_of" for s in steps)


def amounts_pass(tests: Iterable[AmountTest], amounts: Mapping[str, Decimal]) -> bool:
    for t in tests:
        v = amounts.get(t.field)
        if v is None:
            return False
        if t.of is not None:
            d = amounts.get(t.of)
            if d is None or d <= 0:
                return False
            # compare v/d with a bound as v against bound×d, exactly
            ok = (
                (t.ge is None or v >= t.ge * d)
                and (t.gt is None or v > t.gt * d)
                and (t.le is None or v <= t.le * d)
                and (t.lt is None or v < t.lt * d)
            )
        else:
            ok = (
                (t.ge is None or v >= t.ge)
                and (t.gt is None or v > t.gt)
                and (t.le is None or v <= t.le)
                and (t.lt is None or v < t.lt)
            )
        if not ok:
            return False
    return True


def covered(states: Iterable[RecordState], relief: Relief, day: date) -> tuple[str, ...]:
    """The records declaring a relief that covers their subject on ``day`` (from their
    effective date, for ``relief.within``); a revoked declaration covers nothing."""
    cats = set(relief.categories)
    return tuple(st.record.id for st in states
                 if st.record.category in cats and st.record.effective <= day
                 and within(st.record.effective, relief.within, day))


def grace_of(rule: ListRule, states: Iterable[RecordState], listed_on: date) -> Period | None:
    """The rule's grace, if it applies to this subject (``grace_for``: only if covered)."""
    if rule.grace is None or rule.grace_for is None:
        return rule.grace
    return rule.grace if covered(states, rule.grace_for, listed_on) else None


def _valid_repair(policy: Policy, subject: Subject, st: RecordState,
                  states: Iterable[RecordState] = ()) -> date | None:
    """The first repair on or after the record's earliest repair date, if it can be repaired.

    The earliest date is the latest of the category's minimum display period and the
    ``application_after`` of every list rule the record triggers; a record that triggers a
    rule with no repair path (e.g. the court list: performance, not repair) cannot be
    repaired at all. One rule for scores, display and lists, so they never disagree.
    """
    r = st.record
    view = policy.at(r.effective)
    earliest = r.effective
    cat = view.categories.get(r.category)
    if cat is not None and cat.publicity.min is not None:
        earliest = max(earliest, cat.publicity.min.after(r.effective))
    for rule in view.rules_by_category.get(r.category, ()):
        if subject.kind not in rule.subject_kinds or not in_regions(subject, rule.regions):
            continue
        if rule.trigger.amounts and not amounts_pass(rule.trigger.amounts, st.amounts):
            continue
        if rule.removal.application_after is None:
            return None
        grace = grace_of(rule, states, r.effective)
        start = grace.after(r.effective) if grace else r.effective
        earliest = max(earliest, rule.removal.application_after.after(start))
    return next((d for d in st.repairs if d >= earliest), None)


def in_regions(subject: Subject, regions: tuple[str, ...]) -> bool:
    """Local rules bind only subjects registered in their jurisdiction."""
    return not regions or subject.region.startswith(regions)


_WINDOW_END: dict[tuple[Period, date], date] = {}


def within(effective: date, window: Period | None, as_of: date) -> bool:
    """A record counts while as-of is before effective + window (as list durations do)."""
    return window is None or as_of < window_end(window, effective)


def window_end(window: Period, effective: date) -> date:
    end = _WINDOW_END.get((window, effective))
    if end is None:
        if len(_WINDOW_END) > 200_000:  # a memo of pure date arithmetic, bounded
            _WINDOW_END.clear()
        end = _WINDOW_END[(window, effective)] = window.after(effective)
    return end


