"""Ratings: conditions over records, indicators, schemes and their grades, including ratings
published once a year. Internal to the engine; pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from xinyong.engine.facts import (
    Context,
    RecordState,
    amounts_pass,
    covered,
    in_regions,
    reachable,
    view_on,
    within,
)
from xinyong.model import Contribution, GradeAdjustment, Rating, Subject
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.policy.schema import AmountTest, Condition, Indicator, Scheme, SchemeForm

_ZERO = Decimal(0)


@dataclass(slots=True)
class _Match:
    records: tuple[str, ...] = ()
    via: tuple[str, ...] = ()


def _of_categories(ctx: Context, subject: str,
                   categories: tuple[str, ...]) -> list[RecordState]:
    """The subject's record states of these categories, in (effective, id) order."""
    key = (subject, categories)
    found = ctx.by_category.get(key)
    if found is None:
        cats = set(categories)
        found = ctx.by_category[key] = [st for st in ctx.states.get(subject, ())
                                        if st.record.category in cats]
    return found


def matching(
    ctx: Context,
    subject: str,
    categories: tuple[str, ...],
    tests: Iterable[AmountTest],
    windows: tuple[Period | None, ...],
    *,
    for_score: bool,
) -> list[RecordState]:
    tests = tuple(tests)
    out = []
    as_of = ctx.as_of
    windows = tuple(w for w in windows if w is not None)
    for st in _of_categories(ctx, subject, categories):
        r = st.record
        if windows and not all(within(r.effective, w, as_of) for w in windows):
            continue
        if for_score and st.repaired is not None:
            continue
        if tests and not amounts_pass(tests, st.amounts):
            continue
        out.append(st)
    return out


def holds(
    ctx: Context, c: Condition, subject: str, score: Decimal | None = None,
    follow_links: bool = True,
) -> _Match | None:
    found = _Match()
    if c.categories:
        hits = matching(ctx, subject, c.categories, c.amounts, (c.window,), for_score=True)
        if not hits:
            return None
        found.records += tuple(st.record.id for st in hits)
    if c.registered_within is not None:
        s = ctx.subjects.get(subject)
        if s is None or s.registered is None:
            return None
        if not within(s.registered, c.registered_within, ctx.as_of):
            return None
    if c.grade is not None:
        scheme = ctx.view.schemes.get(c.grade.scheme)
        s = ctx.subjects.get(subject)
        if scheme is None or s is None or not applies(ctx, scheme, s):
            return None
        rating = _own_rating(ctx, scheme, subject)
        if rating is None or rating.grade not in c.grade.grades:
            return None
        found.records += rating.records
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
            m = holds(ctx, c.linked.when, other, follow_links=False)
            if m is not None:
                hit = True
                found.records += m.records
                found.via += (f"{c.linked.path}:{other}",)
        if not hit:
            return None
    for sub in c.all:
        m = holds(ctx, sub, subject, score, follow_links)
        if m is None:
            return None
        found.records += m.records
        found.via += m.via
    if c.any:
        any_hit = False
        for sub in c.any:
            m = holds(ctx, sub, subject, score, follow_links)
            if m is not None:
                any_hit = True
                found.records += m.records
                found.via += m.via
        if not any_hit:
            return None
    return found


def applies(ctx: Context, scheme: Scheme, subject: Subject) -> bool:
    if subject.kind not in scheme.subject_kinds or not in_regions(subject, scheme.regions):
        return False
    if subject.registered is not None and subject.registered > ctx.as_of:
        return False  # no rating before the subject exists
    preset = ctx.policy.preset_of("scheme", scheme)
    p = ctx.policy.presets.get(preset)
    return not (p is not None and p.voluntary and not subject.opted_in(preset, ctx.as_of))


def ratings_of(ctx: Context, subject_id: str) -> dict[str, Rating]:
    cached = ctx.ratings.get(subject_id)
    if cached is not None:
        return cached
    subject = ctx.subjects[subject_id]
    out: dict[str, Rating] = {}
    for s in ctx.view.schemes.values():
        if s.publication is not None and ctx.period_end is None:
            r = published_rating(ctx, s, subject_id)
            if r is not None:
                out[s.id] = r
        elif applies(ctx, s, subject):
            out[s.id] = rate(ctx, s, subject_id)
    ctx.ratings[subject_id] = out
    return out


def published_rating(ctx: Context, scheme: Scheme, subject: str, follow_links: bool = True,
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
    year = view_on(ctx.policy, ctx.subjects, ctx.inputs, year_end, warnings=[],
                    events_on=assessed, revoked_on=ctx.as_of, cut=cut, period_end=year_end,
                    categories=reads_of(ctx.policy, scheme.id).categories)
    if not applies(year, version, ctx.subjects[subject]):
        return None
    rating = rate(year, version, subject, follow_links)
    return replace(rating, period_end=year_end, assessed_on=assessed, reassessed_by=by)


def _indicator(ctx: Context, scheme: Scheme, ind: Indicator, subject: str) -> Contribution:
    hits = matching(ctx, subject, ind.categories, ind.amounts, (ind.window, scheme.window),
                     for_score=True)
    waived: list[str] = []
    relieved_by: dict[str, None] = {}
    if ind.relief is not None:
        counted = []
        own = ctx.states.get(subject, ())
        for st in hits:
            cover = covered(own, ind.relief, st.record.effective)
            if cover:
                waived.append(st.record.id)
                relieved_by.update(dict.fromkeys(cover))
            else:
                counted.append(st)
        hits = counted
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
        waived=tuple(waived),
        relieved_by=tuple(relieved_by),
    )


def _worse(scheme: Scheme, a: str, b: str) -> str:
    order = scheme.grades
    return a if order.index(a) >= order.index(b) else b


def _own_rating(ctx: Context, scheme: Scheme, subject: str) -> Rating | None:
    """The rating on the subject's own records, links not followed (for linked conditions)."""
    key = f"{subject}\x00own"
    cache = ctx.ratings.setdefault(key, {})
    if scheme.id not in cache:
        if scheme.publication is not None and ctx.period_end is None:
            r = published_rating(ctx, scheme, subject, follow_links=False)
            if r is None:
                return None
            cache[scheme.id] = r
        else:
            cache[scheme.id] = rate(ctx, scheme, subject, follow_links=False)
    return cache[scheme.id]


def rate(ctx: Context, scheme: Scheme, subject: str, follow_links: bool = True) -> Rating:
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
        m = holds(ctx, c.when, subject, score, follow_links)
        if m is not None:
            conditional = c.grade if conditional is None else _worse(scheme, conditional, c.grade)
            adjustments.append(
                GradeAdjustment(c.id, "conditional", c.grade, m.records,
                                ctx.policy.basis_on(c.legal_basis, ctx.as_of), m.via)
            )
    if conditional is not None:
        grade = conditional
    for o in scheme.override:
        m = holds(ctx, o.when, subject, score, follow_links)
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


class Reads(NamedTuple):
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


_READS: dict[tuple[str, str], Reads] = {}


def reads_of(policy: Policy, scheme_id: str) -> Reads:
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
                if ind.relief is not None:  # the declarations waiving records count too
                    cats.update(ind.relief.categories)
                    if ind.relief.within is not None:
                        windows.add(ind.relief.within)
            for o in v.override:
                cond(o.when)
            for c in v.conditional:
                cond(c.when)
            if v.publication is not None:
                cats.update(v.publication.reassessment)

    scheme(scheme_id)
    mine = policy.versions["scheme"].get(scheme_id, ())
    first = min((v.effective_from for v in mine), default=date.max)
    found = Reads(frozenset(schemes), frozenset(cats), frozenset(windows), links, first,
                   tuple(v for v in mine if v.publication is not None))
    if len(_READS) > 1000:
        _READS.clear()
    _READS[key] = found
    return found


