"""Per-subject evaluation: records, events and links in; a :class:`Standing` out.

Pure: no clock, no files, no database. ``as_of`` is valid time; ``known_at``
(default: the end of ``as_of``) is transaction time — only records and events
recorded by then count, so a past standing is reproduced exactly. ``due`` (optional)
is the platform's due-process state: open objections and reviewers' confirmations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from xinyong.model import (
    AppliedMeasure,
    Contribution,
    DisplayedRecord,
    DueProcess,
    EntryStatus,
    EventKind,
    GradeAdjustment,
    Link,
    ListEntry,
    Rating,
    Record,
    RecordEvent,
    Standing,
    Subject,
    grade_key,
)
from xinyong.periods import Period
from xinyong.policy.model import Binding, Policy, PolicyView
from xinyong.policy.schema import (
    AmountTest,
    Condition,
    Indicator,
    ListRule,
    MeasureKind,
    Scheme,
    SchemeForm,
)

_ZERO = Decimal(0)


@dataclass(slots=True)
class _RecordState:
    record: Record
    amounts: Mapping[str, Decimal]
    rectified: date | None = None
    repairs: list[date] = field(default_factory=list)
    """Every repair event, valid or not: each list rule judges them against its own minimum."""
    repaired: date | None = None
    """The first repair valid for the record itself (scores and public display)."""
    revoked: date | None = None


@dataclass(slots=True)
class _Match:
    records: tuple[str, ...] = ()
    via: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Inputs:
    """The facts known by ``known``, each record once: what every dated view is built from."""

    records: tuple[Record, ...]
    """In (effective, id) order."""
    events: Mapping[str, tuple[RecordEvent, ...]]
    """Per record, in (effective, recorded_at, id) order."""
    links: tuple[Link, ...]
    known: datetime


@dataclass
class _Context:
    policy: Policy
    view: PolicyView
    as_of: date
    subjects: Mapping[str, Subject]
    states: Mapping[str, list[_RecordState]]
    org_links: Mapping[str, list[Link]]
    party_links: Mapping[str, list[Link]]
    warnings: list[str]
    inputs: _Inputs
    confirmed: frozenset[str] | None = None
    """Entries confirmed by a reviewer; None without due process (nothing is pending)."""
    period_end: date | None = None
    """Set in the view of a published rating's year: ratings inside it are computed plainly."""
    entries: dict[str, tuple[ListEntry, ...]] = field(default_factory=dict)
    ratings: dict[str, dict[str, Rating]] = field(default_factory=dict)
    runs: dict[tuple[str, str], list[_Run]] = field(default_factory=dict)
    by_category: dict[str, dict[str, list[_RecordState]]] = field(default_factory=dict)


class _Run(NamedTuple):
    """A maximal interval over which a subject's grade under a scheme stayed in one set."""

    start: date
    end: date | None
    grade: str
    records: tuple[str, ...]


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
    inputs = _known_inputs(records, events, links, subjects, known, warnings)
    all_known = {r.id: r for r in inputs.records if r.effective <= as_of}
    ctx = _context(policy, subjects, inputs, as_of, warnings=warnings,
                   confirmed=due.confirmed if due is not None else None)
    ratings = _ratings(ctx, subject.id)
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


def _known_inputs(records: Iterable[Record], events: Iterable[RecordEvent],
                  links: Iterable[Link], subjects: Mapping[str, Subject], known: datetime,
                  warnings: list[str]) -> _Inputs:
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
    return _Inputs(
        records=tuple(sorted(first.values(), key=lambda r: (r.effective, r.id))),
        events={k: tuple(sorted(v, key=lambda e: (e.effective, e.recorded_at, e.id)))
                for k, v in by_record.items()},
        links=tuple(lk for lk in links if lk.recorded_at is None or lk.recorded_at <= known),
        known=known,
    )


def _context(policy: Policy, subjects: Mapping[str, Subject], inputs: _Inputs, on: date, *,
             warnings: list[str], confirmed: frozenset[str] | None = None,
             events_on: date | None = None, revoked_on: date | None = None,
             cut: datetime | None = None, period_end: date | None = None,
             categories: frozenset[str] | None = None) -> _Context:
    """The view of the facts on ``on``: records in effect by then, events by ``events_on``
    (default ``on``), revocations by ``revoked_on`` (default ``on``; a record revoked by then
    is treated as never having existed), everything recorded by ``cut`` (default: all), and
    only records of ``categories`` if given (a view for one rating needs no others)."""
    events_on = events_on or on
    revoked_on = revoked_on or on
    states: dict[str, list[_RecordState]] = defaultdict(list)
    for r in inputs.records:
        if r.effective > on:
            break  # records are in effective order
        if (cut is not None and r.recorded_at > cut) or (
                categories is not None and r.category not in categories):
            continue
        st = _RecordState(r, r.amounts)
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
            if st.repairs:
                st.repaired = _valid_repair(policy, subjects[r.subject], st)
            states[r.subject].append(st)
    org_links: dict[str, list[Link]] = defaultdict(list)
    party_links: dict[str, list[Link]] = defaultdict(list)
    for link in inputs.links:
        if link.holds_on(on) and (cut is None or link.recorded_at is None
                                  or link.recorded_at <= cut):
            org_links[link.organisation].append(link)
            party_links[link.party].append(link)
    return _Context(policy, policy.at(on), on, subjects, states, org_links, party_links,
                    warnings, inputs, confirmed, period_end)


# --- due process -----------------------------------------------------------------------


def _mark_rating(r: Rating, subject: str, disputed: frozenset[str]) -> Rating:
    recs = [*(x for c in r.contributions for x in c.records),
            *(x for a in r.adjustments for x in a.records)]
    if grade_key(subject, r.scheme) in disputed or any(f"record:{x}" in disputed for x in recs):
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


# --- links ---------------------------------------------------------------------------


def _step(ctx: _Context, ids: set[str], step: str) -> set[str]:
    out: set[str] = set()
    if step.endswith("_of"):
        role = step[:-3]
        for i in ids:
            out.update(lk.organisation for lk in ctx.party_links.get(i, ()) if lk.role == role)
    else:
        for i in ids:
            out.update(lk.party for lk in ctx.org_links.get(i, ()) if lk.role == step)
    return out


def reachable(ctx: _Context, start: str, path: str) -> set[str]:
    ids = {start}
    for step in path.split("/"):
        ids = _step(ctx, ids, step)
    ids.discard(start)
    return ids


def reverse_path(path: str) -> str:
    steps = path.split("/")[::-1]
    return "/".join(s[:-3] if s.endswith("_of") else f"{s}_of" for s in steps)


# --- conditions ----------------------------------------------------------------------


def _amounts_pass(tests: Iterable[AmountTest], amounts: Mapping[str, Decimal]) -> bool:
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


def _valid_repair(policy: Policy, subject: Subject, st: _RecordState) -> date | None:
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
        if rule.trigger.amounts and not _amounts_pass(rule.trigger.amounts, st.amounts):
            continue
        if rule.removal.application_after is None:
            return None
        start = rule.grace.after(r.effective) if rule.grace else r.effective
        earliest = max(earliest, rule.removal.application_after.after(start))
    return next((d for d in st.repairs if d >= earliest), None)


_WINDOW_END: dict[tuple[Period, date], date] = {}


def _within(effective: date, window: Period | None, as_of: date) -> bool:
    """A record counts while as-of is before effective + window (as list durations do)."""
    if window is None:
        return True
    end = _WINDOW_END.get((window, effective))
    if end is None:
        if len(_WINDOW_END) > 200_000:  # a memo of pure date arithmetic, bounded
            _WINDOW_END.clear()
        end = _WINDOW_END[(window, effective)] = window.after(effective)
    return as_of < end


def _of_categories(ctx: _Context, subject: str, categories: Iterable[str]) -> list[_RecordState]:
    """The subject's record states of these categories, in (effective, id) order."""
    index = ctx.by_category.get(subject)
    if index is None:
        index = ctx.by_category[subject] = defaultdict(list)
        for st in ctx.states.get(subject, ()):
            index[st.record.category].append(st)
    found = [lst for c in dict.fromkeys(categories) if (lst := index.get(c))]
    if len(found) == 1:
        return found[0]
    return sorted((st for lst in found for st in lst),
                  key=lambda st: (st.record.effective, st.record.id))


def _matching(
    ctx: _Context,
    subject: str,
    categories: Iterable[str],
    tests: Iterable[AmountTest],
    windows: tuple[Period | None, ...],
    *,
    for_score: bool,
) -> list[_RecordState]:
    tests = tuple(tests)
    out = []
    as_of = ctx.as_of
    windows = tuple(w for w in windows if w is not None)
    for st in _of_categories(ctx, subject, categories):
        r = st.record
        if windows and not all(_within(r.effective, w, as_of) for w in windows):
            continue
        if for_score and st.repaired is not None:
            continue
        if tests and not _amounts_pass(tests, st.amounts):
            continue
        out.append(st)
    return out


def _holds(
    ctx: _Context, c: Condition, subject: str, score: Decimal | None = None,
    follow_links: bool = True,
) -> _Match | None:
    found = _Match()
    if c.categories:
        hits = _matching(ctx, subject, c.categories, c.amounts, (c.window,), for_score=True)
        if not hits:
            return None
        found.records += tuple(st.record.id for st in hits)
    if c.registered_within is not None:
        s = ctx.subjects.get(subject)
        if s is None or s.registered is None:
            return None
        if not _within(s.registered, c.registered_within, ctx.as_of):
            return None
    if c.grade is not None:
        scheme = ctx.view.schemes.get(c.grade.scheme)
        s = ctx.subjects.get(subject)
        if scheme is None or s is None or not _applies(ctx, scheme, s):
            return None
        rating = _own_rating(ctx, scheme, subject)
        if rating is None or rating.grade not in c.grade.grades:
            return None
        found.records += tuple(dict.fromkeys(
            [r for x in rating.contributions for r in x.records]
            + [r for a in rating.adjustments for r in a.records]))
    if c.score_min is not None and (score is None or score < c.score_min):
        return None
    if c.score_max is not None and (score is None or score > c.score_max):
        return None
    if c.linked is not None:
        if not follow_links:
            return None
        hit = False
        for other in sorted(reachable(ctx, subject, c.linked.path)):
            # one hop: the linked subject is judged on its own records and links are not
            # followed again, so firms sharing a person cannot make each other D in a loop
            m = _holds(ctx, c.linked.when, other, follow_links=False)
            if m is not None:
                hit = True
                found.records += m.records
                found.via += (f"{c.linked.path}:{other}",)
        if not hit:
            return None
    for sub in c.all:
        m = _holds(ctx, sub, subject, score, follow_links)
        if m is None:
            return None
        found.records += m.records
        found.via += m.via
    if c.any:
        any_hit = False
        for sub in c.any:
            m = _holds(ctx, sub, subject, score, follow_links)
            if m is not None:
                any_hit = True
                found.records += m.records
                found.via += m.via
        if not any_hit:
            return None
    return found


# --- schemes -------------------------------------------------------------------------


def in_regions(subject: Subject, regions: tuple[str, ...]) -> bool:
    """Local rules bind only subjects registered in their jurisdiction."""
    return not regions or subject.region.startswith(regions)


def _applies(ctx: _Context, scheme: Scheme, subject: Subject) -> bool:
    if subject.kind not in scheme.subject_kinds or not in_regions(subject, scheme.regions):
        return False
    if subject.registered is not None and subject.registered > ctx.as_of:
        return False  # no rating before the subject exists
    preset = ctx.policy.preset_of("scheme", scheme)
    p = ctx.policy.presets.get(preset)
    return not (p is not None and p.voluntary and not subject.opted_in(preset, ctx.as_of))


def _ratings(ctx: _Context, subject_id: str) -> dict[str, Rating]:
    cached = ctx.ratings.get(subject_id)
    if cached is not None:
        return cached
    subject = ctx.subjects[subject_id]
    out: dict[str, Rating] = {}
    for s in ctx.view.schemes.values():
        if s.publication is not None and ctx.period_end is None:
            r = _published(ctx, s, subject_id)
            if r is not None:
                out[s.id] = r
        elif _applies(ctx, s, subject):
            out[s.id] = rate(ctx, s, subject_id)
    ctx.ratings[subject_id] = out
    return out


def _published(ctx: _Context, scheme: Scheme, subject: str, follow_links: bool = True,
               on: date | None = None) -> Rating | None:
    """The rating in force on ``on`` (default as-of) under a yearly published scheme: the one
    determined on the last publication day (or a later granted re-evaluation) for the calendar
    year before, under the rules of that year, on what was known by the end of that day. A
    revocation by as-of takes the revoked record out, as everywhere."""
    on = on or ctx.as_of
    pub = scheme.publication
    assert pub is not None
    published = pub.latest(on)
    year_end = date(published.year - 1, 12, 31)
    assessed, by = published, None
    for st in ctx.states.get(subject, ()):
        rec = st.record
        if rec.category in pub.reassessment and published < rec.effective <= on:
            assessed, by = rec.effective, rec.id  # states are in effective order: last wins
    version = ctx.policy.at(year_end).schemes.get(scheme.id)
    if version is None:
        return None
    cut = min(ctx.inputs.known, datetime.combine(assessed, time.max))
    year = _context(ctx.policy, ctx.subjects, ctx.inputs, year_end, warnings=[],
                    events_on=assessed, revoked_on=ctx.as_of, cut=cut, period_end=year_end,
                    categories=_reads(ctx.policy, scheme.id).categories)
    if not _applies(year, version, ctx.subjects[subject]):
        return None
    rating = rate(year, version, subject, follow_links)
    return replace(rating, period_end=year_end, assessed_on=assessed, reassessed_by=by)


def _indicator(ctx: _Context, scheme: Scheme, ind: Indicator, subject: str) -> Contribution:
    hits = _matching(ctx, subject, ind.categories, ind.amounts, (ind.window, scheme.window),
                     for_score=True)
    if ind.aggregate == "count":
        value = Decimal(len(hits))
    elif ind.aggregate == "exists":
        value = Decimal(1 if hits else 0)
    else:
        vals = [st.amounts.get(ind.field or "", _ZERO) for st in hits]
        value = (sum(vals, _ZERO) if ind.aggregate == "sum" else max(vals, default=_ZERO))
    if ind.bins:
        points = next(b.points for b in ind.bins if b.upto is None or value <= b.upto)
        best = max(b.points for b in ind.bins)
    else:
        points = value * (ind.points or _ZERO)
        if ind.cap is not None:
            points = max(-ind.cap, min(ind.cap, points))
        # a deduction's best is none at all; a reward is never "short"
        best = points if (ind.points or _ZERO) > 0 else _ZERO
    weight = ind.weight if scheme.combination == "weighted" and ind.weight is not None else 1
    return Contribution(
        indicator=ind.id,
        value=value,
        points=points,
        records=tuple(st.record.id for st in hits),
        shortfall=(best - points) * weight,
    )


def _worse(scheme: Scheme, a: str, b: str) -> str:
    order = scheme.grades
    return a if order.index(a) >= order.index(b) else b


def _own_rating(ctx: _Context, scheme: Scheme, subject: str) -> Rating | None:
    """The rating on the subject's own records, links not followed (for linked conditions)."""
    key = f"{subject}\x00own"
    cache = ctx.ratings.setdefault(key, {})
    if scheme.id not in cache:
        if scheme.publication is not None and ctx.period_end is None:
            r = _published(ctx, scheme, subject, follow_links=False)
            if r is None:
                return None
            cache[scheme.id] = r
        else:
            cache[scheme.id] = rate(ctx, scheme, subject, follow_links=False)
    return cache[scheme.id]


def rate(ctx: _Context, scheme: Scheme, subject: str, follow_links: bool = True) -> Rating:
    contributions = tuple(_indicator(ctx, scheme, i, subject) for i in scheme.indicator)
    weighted = scheme.combination == "weighted"
    raw = sum(
        ((c.points * (i.weight or 1) if weighted else c.points)
         for c, i in zip(contributions, scheme.indicator, strict=True)),
        _ZERO,
    )
    score = scheme.base + raw
    if scheme.scale is not None:
        lo = hi = _ZERO
        for i in scheme.indicator:
            w = i.weight if weighted and i.weight is not None else Decimal(1)
            pts = [b.points * w for b in i.bins]
            lo, hi = lo + min(pts), hi + max(pts)
        span = hi - lo
        frac = (raw - lo) / span if span else Decimal(1)
        score = scheme.scale.min + frac * (scheme.scale.max - scheme.scale.min)
        score = score.quantize(Decimal(1), ROUND_HALF_UP)
    elif weighted:
        score = score.quantize(Decimal("0.01"), ROUND_HALF_UP)
    if scheme.clamp is not None:
        score = max(scheme.clamp[0], min(scheme.clamp[1], score))
    band = scheme.bands[-1].grade
    for b in sorted(scheme.bands, key=lambda b: b.min, reverse=True):
        if score >= b.min:
            band = b.grade
            break
    grade = band
    adjustments: list[GradeAdjustment] = []
    conditional: str | None = None
    for c in scheme.conditional:
        m = _holds(ctx, c.when, subject, score, follow_links)
        if m is not None:
            conditional = c.grade if conditional is None else _worse(scheme, conditional, c.grade)
            adjustments.append(
                GradeAdjustment(c.id, "conditional", c.grade, m.records,
                                ctx.policy.basis_on(c.legal_basis, ctx.as_of), m.via)
            )
    if conditional is not None:
        grade = conditional
    for o in scheme.override:
        m = _holds(ctx, o.when, subject, score, follow_links)
        if m is not None:
            target = o.at_most or o.grade or grade
            grade = _worse(scheme, grade, target)
            kind = "at_most" if o.at_most else "grade"
            adjustments.append(GradeAdjustment(o.id, kind, target, m.records,
                                               ctx.policy.basis_on(o.legal_basis, ctx.as_of),
                                               m.via))
    reasons: tuple[str, ...] = ()
    if scheme.form is SchemeForm.SCORECARD and scheme.max_reasons:
        short = sorted(
            (c for c in contributions if c.shortfall > 0), key=lambda c: (-c.shortfall, c.indicator)
        )
        reasons = tuple(c.indicator for c in short[: scheme.max_reasons])
    return Rating(
        scheme=scheme.id,
        score=score,
        band_grade=band,
        grade=grade,
        contributions=contributions,
        adjustments=tuple(adjustments),
        principal_reasons=reasons,
        public=scheme.public,
    )


# --- lists ---------------------------------------------------------------------------


def _entries(ctx: _Context, subject_id: str,
             lists: frozenset[str] | None = None) -> tuple[ListEntry, ...]:
    """The subject's entries on every list, or on ``lists`` (and the lists feeding them)."""
    key = subject_id if lists is None else f"{subject_id}\x00{'+'.join(sorted(lists))}"
    cached = ctx.entries.get(key)
    if cached is not None:
        return cached
    subject = ctx.subjects.get(subject_id)
    out: list[ListEntry] = []
    wanted = None if lists is None else _feeding(ctx.view, lists)
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


def _feeding(view: PolicyView, lists: frozenset[str]) -> set[str]:
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


def _grade_entries(ctx: _Context, rule: ListRule, subject: str) -> list[ListEntry]:
    """One entry per unbroken run of a triggering grade: it starts on the run's first day (or
    the day the rule came into force, if later) and ends when the run ends, so its key, its
    notice and a reviewer's confirmation stay the same from day to day."""
    t = rule.trigger
    assert t.scheme is not None
    out = []
    for run in _grade_runs(ctx, t.scheme, subject):
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


def _grade_runs(ctx: _Context, scheme_id: str, subject: str) -> list[_Run]:
    """The subject's grade under a scheme from its first turning point to as-of, as runs of
    one grade. Between two turning points nothing the grade reads can change, so it is
    computed once per turning point, in a view of the facts as known now (a record revoked
    by as-of never existed, on any day)."""
    key = (subject, scheme_id)
    cached = ctx.runs.get(key)
    if cached is not None:
        return cached
    runs: list[_Run] = []
    reads = _reads(ctx.policy, scheme_id)
    points = _turning_points(ctx, reads, subject)
    last: tuple[object, ...] | None = None
    for n, day in enumerate(points):
        if n == len(points) - 1:
            rating = _ratings(ctx, subject).get(scheme_id)  # the last segment holds on as-of
        else:
            if reads.publications:
                # most years look alike: the same inputs give the same grade, skip them
                sig = _year_inputs(ctx, reads, scheme_id, subject, day)
                if sig is not None and sig == last:
                    continue
                last = sig
            rating = _rating_on(ctx, reads, scheme_id, subject, day)
        grade = rating.grade if rating is not None else ""
        if runs and runs[-1].grade == grade:
            continue
        if runs:
            runs[-1] = runs[-1]._replace(end=day)
        recs = _rating_records(rating) if rating is not None else ()
        runs.append(_Run(day, None, grade, recs))
    ctx.runs[key] = runs
    return runs


def _rating_on(ctx: _Context, reads: _Reads, scheme_id: str, subject: str,
               day: date) -> Rating | None:
    """The subject's rating under one scheme on an earlier day, as known at as-of."""
    scheme = ctx.policy.at(day).schemes.get(scheme_id)
    if scheme is None:
        return None
    if scheme.publication is not None:
        return _published(ctx, scheme, subject, on=day)
    view = _context(ctx.policy, ctx.subjects, ctx.inputs, day, warnings=[],
                    revoked_on=ctx.as_of, categories=reads.categories)
    return rate(view, scheme, subject) if _applies(view, scheme, ctx.subjects[subject]) else None


def _year_inputs(ctx: _Context, reads: _Reads, scheme_id: str, subject: str,
                 day: date) -> tuple[object, ...] | None:
    """Everything a published rating in force on ``day`` reads (see :func:`_published`), as a
    value: two days with equal values have the same rating."""
    version = ctx.policy.at(day).schemes.get(scheme_id)
    if version is None or version.publication is None:
        return None
    pub = version.publication
    published = pub.latest(day)
    year_end = date(published.year - 1, 12, 31)
    assessed = max((st.record.effective for st in ctx.states.get(subject, ())
                    if st.record.category in pub.reassessment
                    and published < st.record.effective <= day), default=published)
    cut = min(ctx.inputs.known, datetime.combine(assessed, time.max))
    windows = sorted(reads.windows, key=str)
    who = set(ctx.subjects) if reads.links else {subject}
    recs = tuple(
        (r.id, tuple(year_end < w.after(r.effective) for w in windows),
         tuple(ev.id for ev in ctx.inputs.events.get(r.id, ())
               if ev.effective <= (ctx.as_of if ev.kind is EventKind.REVOKED else assessed)
               and (ev.kind is EventKind.REVOKED or ev.recorded_at <= cut)))
        for r in ctx.inputs.records
        if r.effective <= year_end and r.subject in who and r.category in reads.categories
        and r.recorded_at <= cut)
    subjects = tuple(
        (s.id, s.opt_ins, s.registered is None or s.registered <= year_end,
         tuple(s.registered is not None and year_end < w.after(s.registered) for w in windows))
        for i in sorted(who) if (s := ctx.subjects[i]))
    links = tuple(lk for lk in ctx.inputs.links if lk.holds_on(year_end) and (
        lk.recorded_at is None or lk.recorded_at <= cut)) if reads.links else ()
    return (id(ctx.policy.at(year_end).schemes.get(scheme_id)), recs, subjects, links)


def _rating_records(rating: Rating) -> tuple[str, ...]:
    return tuple(dict.fromkeys(
        [r for c in rating.contributions for r in c.records]
        + [r for a in rating.adjustments for r in a.records]
        + ([rating.reassessed_by] if rating.reassessed_by else [])))


class _Reads(NamedTuple):
    """What a scheme's grade reads, over all its versions and the schemes its conditions
    read: it can change only on days these change."""

    schemes: frozenset[str]
    categories: frozenset[str]
    windows: frozenset[Period]
    links: bool
    first: date
    """The first day of the scheme's first version."""
    publications: tuple[Scheme, ...]
    """The scheme's published versions."""


_READS: dict[tuple[str, str], _Reads] = {}


def _reads(policy: Policy, scheme_id: str) -> _Reads:
    key = (policy.digest, scheme_id)
    found = _READS.get(key)
    if found is not None:
        return found
    schemes: set[str] = set()
    cats: set[str] = set()
    windows: set[Period] = set()
    links = False

    def cond(c: Condition) -> None:
        nonlocal links
        cats.update(c.categories)
        windows.update(w for w in (c.window, c.registered_within) if w is not None)
        if c.grade is not None:
            scheme(c.grade.scheme)
        if c.linked is not None:
            links = True
            cond(c.linked.when)
        for sub in (*c.any, *c.all):
            cond(sub)

    def scheme(ident: str) -> None:
        if ident in schemes:
            return
        schemes.add(ident)
        for v in policy.versions["scheme"].get(ident, ()):
            windows.update(w for w in (v.window, *(i.window for i in v.indicator))
                           if w is not None)
            for ind in v.indicator:
                cats.update(ind.categories)
            for o in v.override:
                cond(o.when)
            for c in v.conditional:
                cond(c.when)
            if v.publication is not None:
                cats.update(v.publication.reassessment)

    scheme(scheme_id)
    mine = policy.versions["scheme"].get(scheme_id, ())
    first = min((v.effective_from for v in mine), default=date.max)
    found = _Reads(frozenset(schemes), frozenset(cats), frozenset(windows), links, first,
                   tuple(v for v in mine if v.publication is not None))
    if len(_READS) > 1000:
        _READS.clear()
    _READS[key] = found
    return found


def _turning_points(ctx: _Context, reads: _Reads, subject: str) -> list[date]:
    """Every day up to as-of on which the subject's grade can change: a version of a scheme it
    reads starts or ends, a record it reads takes effect or leaves a window, an event on one
    takes effect, a link starts or ends (if it follows links), the subject registers or joins;
    for a published scheme, only its publication and re-evaluation days (and versions)."""
    policy, as_of = ctx.policy, ctx.as_of
    days: set[date] = {as_of}
    for ident in reads.schemes:
        for v in policy.versions["scheme"].get(ident, ()):
            days.add(v.effective_from)
            if v.effective_to is not None:
                days.add(v.effective_to)
    if reads.publications:
        for version in reads.publications:
            pub = version.publication
            assert pub is not None
            year = version.effective_from.year
            while (day := date(year, pub.month, pub.day)) <= as_of:
                if version.effective_from <= day:
                    days.add(day)
                year += 1
        days.update(st.record.effective for st in ctx.states.get(subject, ())
                    if st.record.category in reads.categories)
        return sorted(d for d in days if reads.first <= d <= as_of)
    who = set(ctx.subjects) if reads.links else {subject}
    for r in ctx.inputs.records:
        if r.effective > as_of:
            break
        if r.subject not in who or r.category not in reads.categories:
            continue
        days.add(r.effective)
        days.update(w.after(r.effective) for w in reads.windows)
        days.update(ev.effective for ev in ctx.inputs.events.get(r.id, ()))
    if reads.links:
        for lk in ctx.inputs.links:
            days.add(lk.start)
            if lk.end is not None:
                days.add(lk.end)
    for ident in who:
        s = ctx.subjects[ident]
        if s.registered is not None:
            days.add(s.registered)
            days.update(w.after(s.registered) for w in reads.windows)
        days.update(d for _, d in s.opt_ins)
    return sorted(d for d in days if reads.first <= d <= as_of)


def _record_entries(ctx: _Context, rule: ListRule, subject: str) -> list[ListEntry]:
    t = rule.trigger
    hits = _matching(ctx, subject, t.categories, t.amounts, (), for_score=False)
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


def _entry(ctx: _Context, rule: ListRule, subject: str, listed_on: date, records: tuple[str, ...],
           rectified: date | None, repairs: Iterable[date], earlier: int,
           basis: str = "records") -> ListEntry:
    start = rule.grace.after(listed_on) if rule.grace else listed_on
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
            ends.append((cal.add_working_days(rectified, rem.rectification_working_days),
                         f"obligation performed on {rectified}"))
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


def _with_record_basis(ctx: _Context, basis: tuple[str, ...], subject: str,
                       records: tuple[str, ...]) -> tuple[str, ...]:
    wanted = set(records)
    own = [st.record.legal_basis for st in ctx.states.get(subject, ())
           if st.record.id in wanted]
    return ctx.policy.basis_on(tuple(dict.fromkeys((*basis, *own))), ctx.as_of)


# --- measures and reasons -------------------------------------------------------------


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


def _measures(ctx: _Context, subject: str, entries: tuple[ListEntry, ...]) -> tuple[
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


def _displayed(ctx: _Context, subject: Subject) -> tuple[DisplayedRecord, ...]:
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


__all__ = ["MeasureKind", "evaluate", "rate", "reachable", "reverse_path"]
