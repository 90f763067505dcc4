"""Ratings compiled into queries over a view (``engine.rating.rate``): every scheme form
(points, deduction, weighted composite, scorecard with bins and a scale), windows, relief,
amount tests, valid repairs, overrides and conditionals (see ``conditions``), in one pass
GROUP BY over the view's record states per scheme version.

:func:`rated_at` rates a view that may be many views at once (a table of evaluation points
joined on subject), choosing for each point the scheme version in force on its day; the
``ratings`` output is everyone on as-of, published schemes by ``publication``. A construct
not compiled is :class:`Unsupported`, naming the file and key: never a silent fallback.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlglot.expressions as exp

from xinyong.engine.batch import conditions as cond
from xinyong.engine.batch.build import Build
from xinyong.engine.batch.facts import View, base
from xinyong.engine.batch.repairs import relief_columns, subject_states
from xinyong.engine.batch.sql import (
    NUM,
    Unsupported,
    amount_column,
    amounts_pass,
    empty_list,
    first_each,
    lam,
    lit,
    not_compiled,
    ordered_ids,
    struct,
    within,
)
from xinyong.policy.model import Policy
from xinyong.policy.schema import Indicator, Relief, Scheme, SchemeForm

COLUMNS = ("subject", "scheme", "score", "band_grade", "grade", "reasons", "records")
"""The columns :func:`rated_at` gives after the view's keys."""


def _scale(scheme: Scheme) -> tuple[Decimal, Decimal, Decimal] | None:
    """(lo, hi, factor) of a scheme's scale: the raw sum maps to min + (raw - lo) × factor,
    exactly when the factor and 1 / span are finite decimals (as the engine computes)."""
    if scheme.scale is None:
        return None
    weighted = scheme.combination == "weighted"
    lo = hi = Decimal(0)
    for i in scheme.indicator:
        w = i.weight if weighted and i.weight is not None else Decimal(1)
        pts = [b.points * w for b in i.bins] or [Decimal(0)]
        lo, hi = lo + min(pts), hi + max(pts)
    span = hi - lo
    factor = (scheme.scale.max - scheme.scale.min) / span if span else Decimal(0)
    return lo, hi, factor


def check(policy: Policy, scheme: Scheme) -> None:
    """Refuse what :func:`rate_version` cannot express exactly."""
    sc = _scale(scheme)
    if sc is not None:
        lo, hi, factor = sc
        span = hi - lo
        exact = span == 0 or (factor == round(factor, 6) and 1 / span == round(1 / span, 20))
        if not exact or any(i.points is not None for i in scheme.indicator):
            raise Unsupported(
                not_compiled(
                    policy,
                    scheme,
                    "scale (a span whose fraction is not a finite decimal, or per-unit points)",
                )
            )


def _counts(ind: Indicator, scheme: Scheme, view: View, cover: dict[Relief, str]) -> exp.Expr:
    """Row ``r`` of the states counts for the indicator (``engine.rating.matching`` with
    ``for_score`` and the relief)."""
    cats = exp.column("category", "r").isin(
        *(exp.Literal.string(c) for c in ind.categories), copy=False
    )
    parts: list[exp.Expr] = [cats, exp.column("repaired", "r").is_(exp.null())]
    for w in (ind.window, scheme.window):
        if w is not None:
            parts.append(within(exp.column("effective", "r"), w, view.on))
    if ind.amounts:
        parts.append(amounts_pass(ind.amounts, "r"))
    if ind.relief is not None:
        parts.append(exp.Not(this=exp.column(cover[ind.relief], "r")))
    return exp.and_(*parts, copy=False)


def _value(ind: Indicator, counts: exp.Expr) -> exp.Expr:
    if ind.aggregate in ("count", "exists"):
        one = (
            exp.Case()
            .when(counts, exp.Literal.number(1), copy=False)
            .else_(exp.Literal.number(0), copy=False)
        )
        agg: exp.Expr = exp.Sum(this=one) if ind.aggregate == "count" else exp.Max(this=one)
    else:
        amount = exp.Coalesce(
            this=exp.column(amount_column(ind.field or ""), "r"), expressions=[lit(0)]
        )
        agg = (
            exp.Sum(this=exp.Case().when(counts, amount, copy=False).else_(lit(0), copy=False))
            if (ind.aggregate == "sum")
            else exp.Max(this=exp.Case().when(counts, amount, copy=False))
        )
    return exp.cast(agg, NUM, copy=False)


def _points(ind: Indicator, value: exp.Expr) -> tuple[exp.Expr, exp.Expr]:
    """(points, best) of an indicator's value (``engine.rating._indicator``)."""
    if ind.bins:
        case = exp.Case()
        for b in ind.bins:
            if b.upto is None:
                case = case.else_(lit(b.points), copy=False)
                break
            case = case.when(exp.LTE(this=value, expression=lit(b.upto)), lit(b.points), copy=False)
        return exp.paren(case, copy=False), lit(max(b.points for b in ind.bins))
    per = ind.points or Decimal(0)
    pts: exp.Expr = exp.cast(exp.Mul(this=value, expression=lit(per)), NUM, copy=False)
    if ind.cap is not None:
        pts = exp.Greatest(
            this=lit(-ind.cap), expressions=[exp.Least(this=lit(ind.cap), expressions=[pts])]
        )
    return exp.paren(pts, copy=False), (exp.paren(pts, copy=False) if per > 0 else lit(0))


def applies(policy: Policy, scheme: Scheme, view: View, s: str) -> exp.Expr:
    """``engine.rating.applies`` for subject row ``s`` in the view."""
    parts: list[exp.Expr] = [
        exp.column("kind", s).isin(
            *(exp.Literal.string(k.value) for k in scheme.subject_kinds), copy=False
        )
    ]
    if scheme.regions:
        parts.append(
            exp.or_(
                *(
                    exp.StartsWith(this=exp.column("region", s), expression=exp.Literal.string(p))
                    for p in scheme.regions
                ),
                copy=False,
            )
        )
    reg = exp.column("registered", s)
    parts.append(exp.or_(reg.is_(exp.null()), exp.LTE(this=reg, expression=view.on), copy=False))
    preset = policy.preset_of("scheme", scheme)
    p = policy.presets.get(preset)
    if p is not None and p.voluntary:
        x = exp.to_identifier("x")
        opted = exp.ArrayFilter(
            this=exp.column("opt_ins", s),
            expression=lam(
                exp.and_(
                    exp.EQ(
                        this=exp.Dot(this=x, expression=exp.to_identifier("programme")),
                        expression=exp.Literal.string(preset),
                    ),
                    exp.LTE(
                        this=exp.Dot(this=x.copy(), expression=exp.to_identifier("since")),
                        expression=view.on,
                    ),
                    copy=False,
                )
            ),
        )
        parts.append(
            exp.GT(
                this=exp.ArraySize(this=exp.Coalesce(this=opted, expressions=[exp.Array()])),
                expression=exp.Literal.number(0),
            )
        )
    return exp.and_(*parts, copy=False)


def _keys(view: View, t: str) -> list[exp.Expr]:
    return [exp.column(k, t) for k in view.keys]


def _on_keys(view: View, a: str, b: str, subject_a: str = "subject") -> exp.Expr:
    return exp.and_(
        exp.EQ(this=exp.column(subject_a, a), expression=exp.column("subject", b)),
        *(exp.EQ(this=exp.column(k, a), expression=exp.column(k, b)) for k in view.keys),
        copy=False,
    )


def rate_version(
    b: Build,
    scheme: Scheme,
    view: View,
    *,
    follow_links: bool = True,
    only: frozenset[str] | None = None,
) -> exp.Select:
    """The ratings of one scheme version in ``view``: (keys, :data:`COLUMNS`), one row per
    view point whose subject the scheme applies to."""
    check(b.policy, scheme)
    leaves = cond.Leaves(b, view, scheme, follow_links, only)
    for c in (*(c.when for c in scheme.conditional), *(o.when for o in scheme.override)):
        leaves.add(c)
    reliefs = [i.relief for i in scheme.indicator if i.relief is not None]
    cats = {c for i in scheme.indicator for c in i.categories} | leaves.categories
    fields = {
        f
        for i in scheme.indicator
        for f in (i.field, *(t.field for t in i.amounts), *(t.of for t in i.amounts))
        if f
    }
    fields |= leaves.fields
    if only is not None:
        cats &= only
    st = subject_states(b, view, sorted(cats), sorted(fields), reliefs, only)
    cover = relief_columns(b.policy, cats, reliefs, only)
    aggs: list[exp.Expr] = []
    for n, ind in enumerate(scheme.indicator):
        counts = _counts(ind, scheme, view, cover)
        aggs.append(exp.alias_(_value(ind, counts), f"v{n}", copy=False))
        aggs.append(
            exp.alias_(
                ordered_ids(
                    exp.Case().when(
                        counts,
                        struct(e=exp.column("effective", "r"), id=exp.column("id", "r")),
                        copy=False,
                    ),
                    (),
                    "id",
                ),
                f"r{n}",
                copy=False,
            )
        )
    aggs += leaves.aggregates("r")
    per = (
        exp.select(*_keys(view, "r"), exp.column("subject", "r"), *aggs)
        .from_(exp.alias_(exp.to_table(st), "r", copy=False), copy=False)
        .group_by(*_keys(view, "r"), exp.column("subject", "r"), copy=False)
    )
    q = (
        base(view)
        .where(applies(b.policy, scheme, view, "s"), copy=False)
        .select(
            exp.alias_(exp.column("kind", "s"), "s_kind", copy=False),
            exp.alias_(exp.column("registered", "s"), "s_registered", copy=False),
            copy=False,
        )
    )
    q = q.join(
        exp.alias_(exp.paren(per, copy=False), "a", copy=False),
        on=_on_keys(view, "a", view.points or "s", "subject")
        if view.points
        else exp.EQ(this=exp.column("subject", "a"), expression=exp.column("id", "s")),
        join_type="LEFT",
        copy=False,
    )
    q = leaves.attach(q)
    weighted = scheme.combination == "weighted"
    raw: exp.Expr = lit(0)
    shortfalls: list[exp.Expr] = []
    for n, ind in enumerate(scheme.indicator):
        value = exp.Coalesce(this=exp.column(f"v{n}", "a"), expressions=[lit(0)])
        pts, best = _points(ind, value)
        w = ind.weight if weighted and ind.weight is not None else Decimal(1)
        raw = exp.cast(
            exp.Add(
                this=raw, expression=exp.cast(exp.Mul(this=pts, expression=lit(w)), NUM, copy=False)
            ),
            NUM,
            copy=False,
        )
        shortfalls.append(
            exp.cast(
                exp.Mul(
                    this=exp.paren(exp.Sub(this=best, expression=pts.copy()), copy=False),
                    expression=lit(w),
                ),
                NUM,
                copy=False,
            )
        )
        q = q.select(
            exp.alias_(
                exp.Coalesce(this=exp.column(f"r{n}", "a"), expressions=[empty_list()]),
                f"r{n}",
                copy=False,
            ),
            copy=False,
        )
    sc = _scale(scheme)
    if sc is not None and scheme.scale is not None:
        lo, _hi, factor = sc
        score: exp.Expr = exp.Add(
            this=lit(scheme.scale.min),
            expression=exp.cast(
                exp.Mul(
                    this=exp.paren(exp.Sub(this=raw, expression=lit(lo)), copy=False),
                    expression=lit(factor),
                ),
                NUM,
                copy=False,
            ),
        )
        score = exp.Round(this=exp.cast(score, NUM, copy=False), decimals=exp.Literal.number(0))
    else:
        score = exp.Add(this=lit(scheme.base), expression=raw)
        if weighted:
            score = exp.Round(this=exp.cast(score, NUM, copy=False), decimals=exp.Literal.number(2))
    score = exp.cast(score, NUM, copy=False)
    if scheme.clamp is not None:
        lo_c, hi_c = scheme.clamp
        score = exp.Greatest(
            this=lit(lo_c), expressions=[exp.Least(this=lit(hi_c), expressions=[score])]
        )
    q = q.select(
        exp.alias_(exp.cast(score, NUM, copy=False), "score", copy=False),
        *(exp.alias_(s, f"sf{n}", copy=False) for n, s in enumerate(shortfalls)),
        copy=False,
    )
    return _grade(b, scheme, view, q, leaves)


def _grade(b: Build, scheme: Scheme, view: View, q: exp.Select, leaves: cond.Leaves) -> exp.Select:
    t = "g"
    score = exp.column("score", t)
    band = exp.Case()
    for bd in sorted(scheme.bands, key=lambda bd: bd.min, reverse=True):
        band = band.when(
            exp.GTE(this=score, expression=lit(bd.min)), exp.Literal.string(bd.grade), copy=False
        )
    band = band.else_(exp.Literal.string(scheme.bands[-1].grade), copy=False)
    order = list(scheme.grades)

    def idx(g: exp.Expr) -> exp.Expr:
        case = exp.Case()
        for n, name in enumerate(order):
            case = case.when(
                exp.EQ(this=g, expression=exp.Literal.string(name)),
                exp.Literal.number(n),
                copy=False,
            )
        return case

    grade: exp.Expr = idx(band)
    held: list[tuple[exp.Expr, exp.Expr]] = []
    if scheme.conditional:
        worst: exp.Expr = exp.Literal.number(-1)
        for c in scheme.conditional:
            h, recs = leaves.holds(c.when, t)
            held.append((h, recs))
            worst = exp.Greatest(
                this=worst,
                expressions=[
                    exp.Case()
                    .when(h, exp.Literal.number(order.index(c.grade)), copy=False)
                    .else_(exp.Literal.number(-1), copy=False)
                ],
            )
        grade = (
            exp.Case()
            .when(
                exp.GTE(this=exp.paren(worst, copy=False), expression=exp.Literal.number(0)),
                worst.copy(),
                copy=False,
            )
            .else_(grade, copy=False)
        )
    for o in scheme.override:
        h, recs = leaves.holds(o.when, t)
        held.append((h, recs))
        target = order.index(o.at_most or o.grade or order[0])
        grade = exp.Greatest(
            this=grade,
            expressions=[
                exp.Case()
                .when(h, exp.Literal.number(target), copy=False)
                .else_(exp.Literal.number(-1), copy=False)
            ],
        )
    name = exp.Case()
    for n, g in enumerate(order):
        name = name.when(
            exp.EQ(this=exp.paren(grade, copy=False), expression=exp.Literal.number(n)),
            exp.Literal.string(g),
            copy=False,
        )
    reasons: exp.Expr = empty_list()
    if scheme.form is SchemeForm.SCORECARD and scheme.max_reasons:
        items: list[exp.Expr] = []
        for n, ind in enumerate(scheme.indicator):
            items.append(
                exp.Case().when(
                    exp.GT(this=exp.column(f"sf{n}", t), expression=lit(0)),
                    struct(s=exp.Neg(this=exp.column(f"sf{n}", t)), id=exp.Literal.string(ind.id)),
                    copy=False,
                )
            )
        x = exp.to_identifier("x")
        kept = exp.ArraySort(
            this=exp.ArrayFilter(
                this=exp.Array(expressions=items),
                expression=lam(exp.Not(this=exp.Is(this=x, expression=exp.Null()))),
            )
        )
        ids = exp.Transform(
            this=kept, expression=lam(exp.Dot(this=x.copy(), expression=exp.to_identifier("id")))
        )
        reasons = exp.ArraySlice(
            this=ids, start=exp.Literal.number(1), end=exp.Literal.number(scheme.max_reasons)
        )
    parts: list[exp.Expr] = [exp.column(f"r{n}", t) for n in range(len(scheme.indicator))]
    parts += [exp.Case().when(h, r, copy=False).else_(empty_list(), copy=False) for h, r in held]
    records = first_each(parts)
    return exp.select(
        *_keys(view, t),
        exp.column("subject", t),
        exp.alias_(exp.Literal.string(scheme.id), "scheme", copy=False),
        exp.alias_(exp.column("score", t), "score", copy=False),
        exp.alias_(band, "band_grade", copy=False),
        exp.alias_(name, "grade", copy=False),
        exp.alias_(reasons, "reasons", copy=False),
        exp.alias_(records, "records", copy=False),
    ).from_(exp.alias_(exp.paren(q, copy=False), t, copy=False), copy=False)


def versions(policy: Policy, scheme_id: str) -> list[tuple[date | None, date | None, Scheme]]:
    """(start, end exclusive, version) of the scheme over the policy's intervals (None: open)."""
    starts: list[date | None] = [None, *policy.breaks]
    out: list[tuple[date | None, date | None, Scheme]] = []
    for n, start in enumerate(starts):
        v = policy.at(start or date.min).schemes.get(scheme_id)
        end = starts[n + 1] if n + 1 < len(starts) else None
        if v is None:
            continue
        if out and out[-1][2] is v and out[-1][1] == start:
            out[-1] = (out[-1][0], end, v)
        else:
            out.append((start, end, v))
    return out


def rated_at(
    b: Build,
    scheme_id: str,
    view: View,
    *,
    follow_links: bool = True,
    only: frozenset[str] | None = None,
) -> exp.Select:
    """The ratings under ``scheme_id`` in ``view``: (view keys, :data:`COLUMNS`), each point
    rated under the version in force on its day (``policy.at(day)``); records as
    ``Rating.records`` (contributions', then adjustments' own records). A scheme published
    yearly is rated plainly here (as inside a published rating's year view)."""
    if view.fixed is not None:
        v = b.policy.at(view.fixed).schemes.get(scheme_id)
        if v is None:
            raise Unsupported(f"scheme {scheme_id!r} is not in force on {view.fixed}")
        return rate_version(b, v, view, follow_links=follow_links, only=only)
    parts = []
    lo, hi = view.span
    for start, end, v in versions(b.policy, scheme_id):
        if (hi is not None and start is not None and start >= hi) or (
            lo is not None and end is not None and end <= lo
        ):
            continue  # no point of the view has a day in this version's days
        parts.append(
            rate_version(
                b, v, cond.restrict(b, view, start, end), follow_links=follow_links, only=only
            )
        )
    if not parts:
        raise Unsupported(f"scheme {scheme_id!r} has no version in the policy")
    out = parts[0]
    for p in parts[1:]:
        out = exp.union(out, p, distinct=False, copy=False)  # type: ignore[assignment]
    return exp.select(*view.keys, *COLUMNS).from_(
        exp.alias_(exp.paren(out, copy=False), "v", copy=False), copy=False
    )
