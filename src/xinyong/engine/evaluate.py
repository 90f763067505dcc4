"""Per-subject evaluation: records, events and links in; a :class:`Standing` out.

Pure: no clock, no files, no database. ``as_of`` is valid time; ``known_at``
(default: the end of ``as_of``) is transaction time — only records and events
recorded by then count, so a past standing is reproduced exactly. ``due`` (optional)
is the platform's due-process state: open objections and reviewers' confirmations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, time

from xinyong.engine.facts import (
    Context,
    grace_of,
    in_regions,
    known_inputs,
    reachable,
    reverse_path,
    view_on,
)
from xinyong.engine.history import grade_runs
from xinyong.engine.rating import matching, ratings_of
from xinyong.model import (
    AppliedMeasure,
    DisplayedRecord,
    DueProcess,
    EntryStatus,
    Link,
    ListEntry,
    Rating,
    Record,
    RecordEvent,
    Standing,
    Subject,
    grade_key,
    record_key,
)
from xinyong.policy.model import Binding, Policy, PolicyView
from xinyong.policy.schema import (
    ListRule,
    MeasureKind,
)


def evaluate(
    policy: Policy,
    subject: Subject,
    records: Iterable[Record],
    events: Iterable[RecordEvent],
    links: Iterable[Link],
    as_of: date,
    *,
    related: Iterable[Subject] = (),
    known_at: datetime | None = None,
    due: DueProcess | None = None,
) -> Standing:
    """Everything that holds for ``subject`` on ``as_of``.

    ``records`` may include records of linked subjects (``related``): measures
    extend along links where a memorandum clause says so, and some grades look
    at linked firms.

    ``due=None`` applies the documented rules alone. With ``due``, a significant measure
    whose entry is not in ``due.confirmed`` is ``pending_review`` (never a reward), and the
    disputed keys bearing on the standing are marked on it, its ratings and (via
    :func:`~xinyong.engine.decide.reason`) its reasons. Disputes change no outcome.
    """
    known = known_at or datetime.combine(as_of, time.max)
    subjects = {s.id: s for s in related}
    subjects[subject.id] = subject
    warnings: list[str] = []
    inputs = known_inputs(records, events, links, subjects, known, warnings)
    all_known = {r.id: r for r in inputs.records if r.effective <= as_of}
    ctx = view_on(policy, subjects, inputs, as_of, warnings=warnings,
                   confirmed=due.confirmed if due is not None else None)
    ratings = ratings_of(ctx, subject.id)
    entries = _entries(ctx, subject.id)
    measures = _measures(ctx, subject.id, entries)
    disputed: frozenset[str] = frozenset()
    if due is not None and due.disputed:
        ratings = {k: _mark_rating(r, subject.id, due.disputed) for k, r in ratings.items()}
        disputed = _bearing(due.disputed, subject.id, all_known, measures, ratings)
    unnoticed: frozenset[str] = frozenset()
    view = ctx.view
    if due is not None and due.noticed is not None:
        unnoticed = frozenset(
            e.key for e in entries if e.subject == subject.id and e.key not in due.noticed
            and (rule := view.list_rules.get(e.rule)) is not None and rule.notice_required
            and rule.colour == "black")
    return Standing(
        subject=subject,
        as_of=as_of,
        known_at=known,
        policy_version=view.version,
        ratings=ratings,
        entries=entries,
        measures=measures,
        records=all_known,
        events={k: tuple(ev for ev in v if ev.effective <= as_of)
                for k, v in inputs.events.items()
                if k in all_known and any(ev.effective <= as_of for ev in v)},
        displayed=_displayed(ctx, subject),
        by_action=_by_action(measures),
        actions=frozenset(policy.actions),
        warnings=tuple(ctx.warnings),
        disputed=disputed,
        unnoticed=unnoticed,
    )


def _mark_rating(r: Rating, subject: str, disputed: frozenset[str]) -> Rating:
    if grade_key(subject, r.scheme) in disputed or any(record_key(x) in disputed
                                                        for x in r.records):
        return replace(r, disputed=True)
    return r


def _bearing(disputed: frozenset[str], subject: str, records: Mapping[str, Record],
             measures: tuple[AppliedMeasure, ...], ratings: Mapping[str, Rating]) -> frozenset[str]:
    """The disputed keys that bear on a standing (see :attr:`Standing.disputed`)."""
    subjects = {subject, *(am.entry.subject for am in measures)}
    # a linked condition names the other subject as "<path>:<subject>"
    subjects.update(v.partition(":")[2] for r in ratings.values()
                    for a in r.adjustments for v in a.via)
    prefixes = tuple(f"{kind}:{s}:" for s in subjects for kind in ("list", "grade"))
    return frozenset(
        k for k in disputed
        if (k.startswith("record:") and k[7:] in records) or k.startswith(prefixes))


def _entries(ctx: Context, subject_id: str,
             lists: frozenset[str] | None = None) -> tuple[ListEntry, ...]:
    """The subject's entries on every list, or on ``lists`` (and the lists feeding them)."""
    key = subject_id if lists is None else f"{subject_id}\x00{'+'.join(sorted(lists))}"
    cached = ctx.entries.get(key)
    if cached is not None:
        return cached
    subject = ctx.subjects.get(subject_id)
    out: list[ListEntry] = []
    wanted = None if lists is None else feeding(ctx.view, lists)
    if subject is not None:
        for rule in ctx.view.list_rules.values():
            if subject.kind not in rule.subject_kinds or not in_regions(subject, rule.regions):
                continue
            if wanted is not None and rule.list_id not in wanted:
                continue
            t = rule.trigger
            if t.categories:
                out.extend(_record_entries(ctx, rule, subject_id))
            elif t.scheme is not None:
                out.extend(_grade_entries(ctx, rule, subject_id))
            elif t.list is not None and t.held_for is not None:
                for src in [e for e in out if e.list == t.list]:
                    reached = t.held_for.after(src.start)
                    held_until = src.end if src.end is not None else date.max
                    if reached <= ctx.as_of and held_until >= reached:
                        gov = ctx.policy.at(reached).list_rules.get(rule.id)
                        if gov is None:
                            continue
                        # repair applications concern the entry the records led to
                        repairs = [d for st in ctx.states.get(subject_id, ())
                                   if st.record.id in src.records for d in st.repairs]
                        out.append(_entry(ctx, gov, subject_id, reached, src.records,
                                          None, repairs, 0, basis=f"{t.held_for} on {t.list}"))
    result = tuple(out)
    ctx.entries[key] = result
    return result


def feeding(view: PolicyView, lists: Iterable[str]) -> set[str]:
    """``lists`` and every list whose entries lead to them (``held_for`` chains)."""
    out = set(lists)
    grew = True
    while grew:
        grew = False
        for rule in view.list_rules.values():
            src = rule.trigger.list
            if rule.list_id in out and src is not None and src not in out:
                out.add(src)
                grew = True
    return out


def _grade_entries(ctx: Context, rule: ListRule, subject: str) -> list[ListEntry]:
    """One entry per unbroken run of a triggering grade: it starts on the run's first day (or
    the day the rule came into force, if later) and ends when the run ends, so its key, its
    notice and a reviewer's confirmation stay the same from day to day."""
    t = rule.trigger
    assert t.scheme is not None
    out = []
    for run in grade_runs(ctx, t.scheme, subject):
        if run.grade not in t.grades:
            continue
        listed_on = _rule_start(ctx.policy, rule.id, run.start, run.end)
        if listed_on is None:
            continue
        gov = ctx.policy.at(listed_on).list_rules.get(rule.id)
        assert gov is not None
        e = _entry(ctx, gov, subject, listed_on, run.records, None, (), 0,
                   basis=f"grade {run.grade} in {t.scheme}")
        e = e._replace(lift=(f"ends when the grade under {t.scheme} is no longer "
                             f"{' or '.join(t.grades)}", *e.lift))
        if run.end is not None and (e.end is None or run.end < e.end):
            ended = ctx.as_of >= run.end
            e = e._replace(
                end=run.end,
                status=EntryStatus.ENDED if ended else e.status,
                end_reason=(f"grade under {t.scheme} no longer {' or '.join(t.grades)} "
                            f"from {run.end}") if ended else None)
        out.append(e)
    return out


def _rule_start(policy: Policy, rule_id: str, start: date, end: date | None) -> date | None:
    """The first day in [start, end) on which some version of the rule is in force."""
    days = [max(start, v.effective_from) for v in policy.versions["list_rule"].get(rule_id, ())
            if v.effective_to is None or v.effective_to > start]
    days = [d for d in days if end is None or d < end]
    return min(days, default=None)


def _record_entries(ctx: Context, rule: ListRule, subject: str) -> list[ListEntry]:
    t = rule.trigger
    hits = matching(ctx, subject, t.categories, t.amounts, (), for_score=False)
    hits.sort(key=lambda st: (st.record.effective, st.record.id))
    out = []
    for n, st in enumerate(hits):
        # non-retroactive: the rule version in force when the record took effect governs
        gov = ctx.policy.at(st.record.effective).list_rules.get(rule.id)
        if gov is None:
            continue
        out.append(_entry(ctx, gov, subject, st.record.effective, (st.record.id,),
                          st.rectified, st.repairs, n))
    return out


def _entry(ctx: Context, rule: ListRule, subject: str, listed_on: date, records: tuple[str, ...],
           rectified: date | None, repairs: Iterable[date], earlier: int,
           basis: str = "records") -> ListEntry:
    grace = grace_of(rule, ctx.states.get(subject, ()), listed_on)
    start = grace.after(listed_on) if grace else listed_on
    planned = rule.duration.after(start) if rule.duration else None
    if planned is not None and rule.extension is not None and earlier:
        longest = rule.extension.max.after(planned)
        ext = planned
        for _ in range(earlier):
            ext = rule.extension.by.after(ext)
        planned = min(ext, longest)
    ends: list[tuple[date, str]] = []
    lift: list[str] = []
    rem = rule.removal
    if planned is not None:
        ends.append((planned, "period ended"))
    if rem.maximum is not None:
        ends.append((rem.maximum.after(start), "maximum period reached"))
    if rem.rectification_working_days is not None:
        lift.append(f"perform the obligation: the entry ends within "
                    f"{rem.rectification_working_days} working days")
        if rectified is not None:
            cal = ctx.policy.calendar(rule.calendar)
            due = cal.add_working_days(rectified, rem.rectification_working_days)
            if (gap := cal.beyond(rectified, due)) is not None:
                ctx.warnings.append(f"{rule.id}: {gap}")
            ends.append((due, f"obligation performed on {rectified}"))
    earliest = rem.application_after.after(start) if rem.application_after else None
    if earliest is not None:
        lift.append(f"apply for credit repair from {earliest}")
    for repaired in sorted(repairs):
        if earliest is not None and repaired >= earliest:
            ends.append((repaired, f"credit repair granted on {repaired}"))
            break
        ctx.warnings.append(
            f"repair of {', '.join(records)} on {repaired} ignored for {rule.id}: "
            + (f"possible only from {earliest}" if earliest else "the rule has no repair path")
        )
    end, reason = min(ends) if ends else (None, None)
    if end is not None and not any("ends automatically" in x for x in lift):
        auto = [d for d, why in ends if why in ("period ended", "maximum period reached")]
        if auto:
            lift.append(f"ends automatically on {min(auto)}")
    if ctx.as_of < start and (end is None or ctx.as_of < end):
        status = EntryStatus.PENDING
    elif end is not None and ctx.as_of >= end:
        status = EntryStatus.ENDED
    else:
        status = EntryStatus.ACTIVE
    return ListEntry(
        list=rule.list_id, rule=rule.id, subject=subject, listed_on=listed_on, start=start,
        planned_end=planned, end=end, status=status,
        end_reason=reason if status is EntryStatus.ENDED else None,
        records=records, earliest_application=earliest, basis=basis, lift=tuple(lift),
        legal_basis=_with_record_basis(ctx, rule.legal_basis, subject, records),
    )


def _with_record_basis(ctx: Context, basis: tuple[str, ...], subject: str,
                       records: tuple[str, ...]) -> tuple[str, ...]:
    wanted = set(records)
    own = [st.record.legal_basis for st in ctx.states.get(subject, ())
           if st.record.id in wanted]
    return ctx.policy.basis_on(tuple(dict.fromkeys((*basis, *own))), ctx.as_of)


def _applied(b: Binding, e: ListEntry, via: tuple[str, ...], listed: str,
             confirmed: frozenset[str] | None) -> AppliedMeasure:
    lift = e.lift
    if via:
        lift = (*lift, f"ends when {listed} leaves {e.list} or the {via[0]} link ends")
    basis = tuple(dict.fromkeys((*b.legal_basis, *e.legal_basis)))
    # PIPL Art. 24 / GDPR Art. 22: a significant measure needs a person, not the engine alone
    pending = (confirmed is not None and b.measure.significant and b.kind != "reward"
               and e.key not in confirmed)
    return AppliedMeasure(b.measure.id, b.kind, b.effect, b.clause.id, b.memorandum.id,
                          b.memorandum.number, b.clause.applied_by, b.measure.actions,
                          basis, lift, e, via, listed, pending)


def _measures(ctx: Context, subject: str, entries: tuple[ListEntry, ...]) -> tuple[
        AppliedMeasure, ...]:
    view = ctx.view
    confirmed = ctx.confirmed
    out: list[AppliedMeasure] = []
    for e in entries:
        if e.status is EntryStatus.ACTIVE:
            out.extend(_applied(b, e, (), subject, confirmed)
                       for b in view.bindings_by_list.get(e.list, ()))
    # measures reaching this subject from subjects it is linked to, where a clause says so
    for path, bound in view.extensions.items():
        lists = frozenset(lst for lst, _ in bound)
        for other in sorted(reachable(ctx, subject, reverse_path(path))):
            active = [e for e in _entries(ctx, other, lists) if e.status is EntryStatus.ACTIVE]
            for lst, b in bound:
                out.extend(_applied(b, e, (path,), other, confirmed)
                           for e in active if e.list == lst)
    return tuple(out)


def _by_action(measures: tuple[AppliedMeasure, ...]) -> dict[str, tuple[AppliedMeasure, ...]]:
    out: dict[str, list[AppliedMeasure]] = defaultdict(list)
    for am in measures:
        for action in am.actions:
            out[action].append(am)
    return {k: tuple(v) for k, v in out.items()}


def _displayed(ctx: Context, subject: Subject) -> tuple[DisplayedRecord, ...]:
    out = []
    for st in ctx.states.get(subject.id, ()):
        cat = ctx.view.categories.get(st.record.category)
        if cat is None or cat.publicity.max is None:
            continue
        pub = cat.publicity
        if not (pub.persons if subject.is_person else pub.organisations):
            continue
        r = st.record
        until = cat.publicity.max.after(r.effective)
        earliest = pub.min.after(r.effective) if pub.min else r.effective
        if st.repaired is not None and st.repaired >= earliest:
            until = min(until, st.repaired)
        if r.effective <= ctx.as_of < until:
            out.append(DisplayedRecord(r.id, r.category, until, earliest))
    return tuple(out)


__all__ = ["MeasureKind", "evaluate"]


