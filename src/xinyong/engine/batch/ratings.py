"""Points schemes compiled into one query over the tables ``subjects``, ``records`` and
``events`` (as a population folder has them): rows (subject, scheme, score, grade).

The semantics are the per-subject engine's (``engine.rating.rate``): records in effect by
as-of and known by its end, revoked ones dropped, each indicator's window and the scheme's
window, points per unit, ``cap``, ``base``, ``clamp``, bands. A construct not compiled yet is
:class:`Unsupported`, naming the file and key: never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.plan import Plan
from xinyong.engine.batch.sql import NUM, Unsupported, day, instant, lit, within
from xinyong.model import EventKind
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.policy.schema import Indicator, Scheme, SchemeForm

_NUM = NUM


def _where(policy: Policy, scheme: Scheme, key: str) -> str:
    o = policy.origin("scheme", scheme)
    place = f"{o.file}:{o.line}" if o and o.line else (o.file if o else "<policy>")
    return (f"{place}: scheme {scheme.id!r} (from {scheme.effective_from}): {key!r} is not "
            "compiled by the batch evaluator yet; rate this scheme with the per-subject engine "
            "or leave it out of the batch run")


def _check(policy: Policy, scheme: Scheme) -> None:
    refuse: list[str] = []
    if scheme.form is not SchemeForm.POINTS:
        refuse.append(f"form = {scheme.form.value}")
    for key, present in (("override", bool(scheme.override)),
                         ("conditional", bool(scheme.conditional)),
                         ("publication", scheme.publication is not None),
                         ("scale", scheme.scale is not None),
                         ("combination = weighted", scheme.combination == "weighted")):
        if present:
            refuse.append(key)
    preset = policy.presets.get(policy.preset_of("scheme", scheme))
    if preset is not None and preset.voluntary:
        refuse.append(f"preset {preset.id!r} voluntary (opt-ins)")
    for i in scheme.indicator:
        for key, present in (("relief", i.relief is not None), ("bins", bool(i.bins)),
                             ("amounts", bool(i.amounts))):
            if present:
                refuse.append(f"indicator {i.id!r} {key}")
    if refuse:
        raise Unsupported(_where(policy, scheme, refuse[0]))


_lit = lit
_date = day


def _in_window(effective: exp.Expr, window: Period, as_of: date) -> exp.Expr:
    return within(effective, window, day(as_of))


def _counts(ind: Indicator, scheme: Scheme, as_of: date) -> exp.Expr:
    """The condition under which one live record counts for the indicator."""
    cond: exp.Expr = exp.column("category", "r").isin(*map(_lit, ind.categories))
    for w in (ind.window, scheme.window):
        if w is not None:
            cond = exp.and_(cond, _in_window(exp.column("effective", "r"), w, as_of))
    return cond


def _value(ind: Indicator, scheme: Scheme, as_of: date) -> exp.Expr:
    """The indicator's value for one subject, as an aggregate over its live records."""
    when = _counts(ind, scheme, as_of)
    if ind.aggregate in ("count", "exists"):
        one = exp.Case().when(when, exp.Literal.number(1)).else_(exp.Literal.number(0))
        agg: exp.Expr = exp.Sum(this=one) if ind.aggregate == "count" else exp.Max(this=one)
    else:
        field = exp.JSONExtractScalar(this=exp.column("amounts", "r"),
                                      expression=exp.Literal.string(f"$.{ind.field}"))
        amount = exp.Coalesce(this=exp.cast(field, _NUM), expressions=[_lit(0)])
        agg = (exp.Sum(this=exp.Case().when(when, amount).else_(_lit(0))) if ind.aggregate
               == "sum" else exp.Max(this=exp.Case().when(when, amount)))
    return exp.cast(agg, _NUM)


def _points(ind: Indicator, value: exp.Expr) -> exp.Expr:
    pts: exp.Expr = exp.Mul(this=exp.Coalesce(this=value, expressions=[_lit(0)]),
                                  expression=_lit(ind.points or 0))
    if ind.cap is not None:
        pts = exp.Greatest(this=_lit(-ind.cap), expressions=[
            exp.Least(this=_lit(ind.cap), expressions=[pts])])
    return exp.paren(pts)


def _scheme_query(scheme: Scheme, as_of: date) -> exp.Select:
    aliases = [f"v{n}" for n in range(len(scheme.indicator))]
    values = exp.select(exp.column("subject", "r"), *(
        exp.alias_(_value(i, scheme, as_of), a)
        for i, a in zip(scheme.indicator, aliases, strict=True)
    )).from_(exp.alias_(exp.to_table("live"), "r")).group_by(exp.column("subject", "r"))
    score: exp.Expr = _lit(scheme.base)
    for i, a in zip(scheme.indicator, aliases, strict=True):
        score = exp.Add(this=score, expression=_points(i, exp.column(a, "a")))
    if scheme.clamp is not None:
        lo, hi = scheme.clamp
        score = exp.Greatest(this=_lit(lo), expressions=[
            exp.Least(this=_lit(hi), expressions=[score])])
    applies: exp.Expr = exp.column("kind", "s").isin(
        *(_lit(k.value) for k in scheme.subject_kinds))
    if scheme.regions:
        applies = exp.and_(applies, exp.or_(*(
            exp.StartsWith(this=exp.column("region", "s"), expression=_lit(p))
            for p in scheme.regions)))
    registered = exp.column("registered", "s")
    applies = exp.and_(applies, exp.or_(registered.is_(exp.null()),
                                        exp.LTE(this=registered, expression=_date(as_of))))
    rated = exp.select(
        exp.alias_(exp.column("id", "s"), "subject"),
        exp.alias_(_lit(scheme.id), "scheme"),
        exp.alias_(score, "score"),
    ).from_(exp.alias_(exp.to_table("subjects"), "s")).join(
        exp.alias_(exp.paren(values), "a"), on=exp.EQ(this=exp.column("subject", "a"),
                                                       expression=exp.column("id", "s")),
        join_type="LEFT",
    ).where(applies)
    grade = exp.Case()
    for b in sorted(scheme.bands, key=lambda b: b.min, reverse=True):
        grade = grade.when(exp.GTE(this=exp.column("score"), expression=_lit(b.min)),
                           _lit(b.grade))
    grade = grade.else_(_lit(scheme.bands[-1].grade))
    return exp.select("subject", "scheme", "score", exp.alias_(grade, "grade")).from_(
        exp.alias_(exp.paren(rated), "rated"))


def _event_of_live(kinds: Iterable[EventKind], as_of: date, known: datetime) -> exp.Expr:
    e = "e"
    return exp.and_(
        exp.EQ(this=exp.column("record", e), expression=exp.column("id", "r")),
        exp.column("kind", e).isin(*(_lit(k.value) for k in kinds)),
        exp.LTE(this=exp.column("effective", e), expression=_date(as_of)),
        exp.LTE(this=exp.column("recorded_at", e), expression=_ts(known)),
    )


_ts = instant


def compile_ratings(b: Build, schemes: Iterable[str] | None,
                    checks: dict[str, exp.Expr]) -> tuple[exp.Expr, tuple[str, ...]]:
    """The ``ratings`` output query of the schemes named (default: all in force), and the
    schemes it rates; adds to ``checks`` the input rows it cannot rate."""
    plan = compile_points(b.policy, b.as_of, schemes, b.known_at)
    checks.update(plan.checks)
    return plan.outputs["ratings"], plan.schemes


def compile_points(policy: Policy, as_of: date, schemes: Iterable[str] | None = None,
                   known_at: datetime | None = None) -> Plan:
    """The plan rating every subject on ``as_of`` under the schemes in force then (all, or
    those named). Raises :class:`Unsupported` for a construct not compiled yet."""
    view = policy.at(as_of).schemes
    wanted = tuple(sorted(view)) if schemes is None else tuple(schemes)
    for ident in wanted:
        if ident not in view:
            raise Unsupported(f"scheme {ident!r} is not in force on {as_of}; in force: "
                              f"{', '.join(sorted(view)) or 'none'}")
        _check(policy, view[ident])
    known = known_at or datetime.combine(as_of, time.max)
    cats = sorted({c for ident in wanted for i in view[ident].indicator for c in i.categories})
    revoked = exp.Exists(this=exp.select("1").from_(exp.alias_(exp.to_table("events"), "e"))
                         .where(_event_of_live((EventKind.REVOKED,), as_of, known)))
    # a record handed in twice counts once, as first recorded (``engine.facts.known_inputs``)
    first = exp.Window(this=exp.RowNumber(), partition_by=[exp.column("id")],
                       order=exp.Order(expressions=[exp.Ordered(this=exp.column("recorded_at"))]))
    known_records = exp.select("*", exp.alias_(first, "nth")).from_("records").where(exp.and_(
        exp.LTE(this=exp.column("recorded_at"), expression=_ts(known)),
        exp.column("subject").isin(query=exp.select("id").from_("subjects"))))
    live = exp.select("r.id", "r.subject", "r.category", "r.effective", "r.amounts").from_(
        exp.alias_(exp.paren(known_records), "r")).where(exp.and_(
            exp.EQ(this=exp.column("nth", "r"), expression=exp.Literal.number(1)),
            exp.LTE(this=exp.column("effective", "r"), expression=_date(as_of)),
            exp.column("category", "r").isin(*map(_lit, cats)) if cats else exp.false(),
            exp.Not(this=revoked),
        ))
    parts = [_scheme_query(view[i], as_of) for i in wanted]
    body: exp.Expr = (exp.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
                            ) if parts else exp.select(
        exp.alias_(exp.cast(exp.null(), "VARCHAR"), "subject"),
        exp.alias_(exp.cast(exp.null(), "VARCHAR"), "scheme"),
        exp.alias_(exp.cast(exp.null(), _NUM), "score"),
        exp.alias_(exp.cast(exp.null(), "VARCHAR"), "grade")).where(exp.false())
    query = exp.select("subject", "scheme", "score", "grade").from_(
        exp.alias_(exp.paren(body), "rated_all")).order_by("scheme", "subject").with_(
        "live", as_=live)
    # corrections and repairs change what a record counts: not compiled yet, so refused
    refused = exp.select("e.id", "e.kind", "e.record").from_(
        exp.alias_(exp.to_table("events"), "e")).join(
        exp.alias_(exp.to_table("live"), "r"),
        on=_event_of_live((EventKind.CORRECTED, EventKind.REPAIRED), as_of, known)
    ).order_by("e.id").limit(1).with_("live", as_=live)
    return Plan({"ratings": query}, {"uncompiled_events": refused}, wanted, (), as_of, known,
                policy.digest)
