"""Since when a grade has held: the days on which a subject's grade under a scheme can change
(turning points) and the runs of one grade between them, for grade-triggered list entries.
Internal to the engine; pure.
"""

from __future__ import annotations

from datetime import date, datetime, time

from xinyong.engine.facts import Context, GradeRun, view_on, window_end
from xinyong.engine.rating import Reads, applies, published_rating, rate, ratings_of, reads_of
from xinyong.model import EventKind, Rating


def grade_runs(ctx: Context, scheme_id: str, subject: str) -> list[GradeRun]:
    """The subject's grade under a scheme from its first turning point to as-of, as runs of
    one grade. Between two turning points nothing the grade reads can change, so it is
    computed once per turning point, in a view of the facts as known now (a record revoked
    by as-of never existed, on any day)."""
    key = (subject, scheme_id)
    cached = ctx.runs.get(key)
    if cached is not None:
        return cached
    runs: list[GradeRun] = []
    reads = reads_of(ctx.policy, scheme_id)
    points = _turning_points(ctx, reads, subject)
    last: tuple[object, ...] | None = None
    for n, day in enumerate(points):
        if n == len(points) - 1:
            rating = ratings_of(ctx, subject).get(scheme_id)  # the last segment holds on as-of
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
        runs.append(GradeRun(day, None, grade, recs))
    ctx.runs[key] = runs
    return runs


def _rating_on(ctx: Context, reads: Reads, scheme_id: str, subject: str,
               day: date) -> Rating | None:
    """The subject's rating under one scheme on an earlier day, as known at as-of."""
    scheme = ctx.policy.at(day).schemes.get(scheme_id)
    if scheme is None:
        return None
    if scheme.publication is not None:
        return published_rating(ctx, scheme, subject, on=day)
    view = view_on(ctx.policy, ctx.subjects, ctx.inputs, day, warnings=[],
                    revoked_on=ctx.as_of, categories=reads.categories)
    return rate(view, scheme, subject) if applies(view, scheme, ctx.subjects[subject]) else None


def _year_inputs(ctx: Context, reads: Reads, scheme_id: str, subject: str,
                 day: date) -> tuple[object, ...] | None:
    """Everything a published rating in force on ``day`` reads (see :func:`published_rating`), as a
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
        (r.id, tuple(year_end < window_end(w, r.effective) for w in windows),
         tuple(ev.id for ev in ctx.inputs.events.get(r.id, ())
               if ev.effective <= (ctx.as_of if ev.kind is EventKind.REVOKED else assessed)
               and (ev.kind is EventKind.REVOKED or ev.recorded_at <= cut)))
        for r in ctx.inputs.records
        if r.effective <= year_end and r.subject in who and r.category in reads.categories
        and r.recorded_at <= cut)
    subjects = tuple(
        (s.id, s.opt_ins, s.registered is None or s.registered <= year_end,
         tuple(s.registered is not None and year_end < window_end(w, s.registered)
               for w in windows))
        for i in sorted(who) if (s := ctx.subjects[i]))
    links = tuple(lk for lk in ctx.inputs.links if lk.holds_on(year_end) and (
        lk.recorded_at is None or lk.recorded_at <= cut)) if reads.links else ()
    return (id(ctx.policy.at(year_end).schemes.get(scheme_id)), recs, subjects, links)


def _rating_records(rating: Rating) -> tuple[str, ...]:
    return tuple(dict.fromkeys(
        [*rating.records, *([rating.reassessed_by] if rating.reassessed_by else [])]))


def _turning_points(ctx: Context, reads: Reads, subject: str) -> list[date]:
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
        days.update(window_end(w, r.effective) for w in reads.windows)
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
            days.update(window_end(w, s.registered) for w in reads.windows)
        days.update(d for _, d in s.opt_ins)
    return sorted(d for d in days if reads.first <= d <= as_of)


