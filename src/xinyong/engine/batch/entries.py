"""List entries compiled (``engine.evaluate._entries``): one row per entry of every subject
on every list rule in force, with its start, planned end, end, status and triggering records.

Each rule in force on as-of (in dependency order) gives its entries from one source of rows
(subject, listed_on, records, rkey, rectified, earlier, run_end): its triggering records, the
grade runs of its scheme, or the entries of the list it is ``held_for`` on. The rule version
in force on the listing day governs the entry (non-retroactive): one query per version, over
the source rows listed within that version's days, all joined into the CTE ``entries``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlglot.expressions as exp

from xinyong.engine.batch import calendar, runs
from xinyong.engine.batch.build import Build
from xinyong.engine.batch.facts import View, repairs, states
from xinyong.engine.batch.sql import Unsupported, after, amounts_pass, day, lit
from xinyong.engine.evaluate import feeding
from xinyong.model import EntryStatus
from xinyong.periods import Period
from xinyong.policy.model import Policy, PolicyView
from xinyong.policy.schema import ListRule

ENTRIES = "entries"
"""CTE: every entry (key, list, rule, subject, listed_on, start, planned_end, end_on, status,
records, rkey) of the lists compiled."""
STATES = "list_states"
REPAIRS = "list_repairs"
_FAR = date(9999, 12, 31)
"""Stands for "no end" inside LEAST, which Spark and DuckDB treat alike only without NULLs."""
_SOURCE = ("subject", "listed_on", "records", "rkey", "rectified", "earlier", "run_end")


def where(policy: Policy, rule: ListRule, key: str) -> str:
    """``file:line: list rule 'id' (from date): key`` (``sql.not_compiled``'s style)."""
    o = policy.origin("list_rule", rule)
    place = f"{o.file}:{o.line}" if o and o.line else (o.file if o else "<policy>")
    return f"{place}: list rule {rule.id!r} (from {rule.effective_from}): {key}"


def grade_free(view: PolicyView) -> tuple[str, ...]:
    """The lists in force whose entries need no grade runs (theirs or a feeding list's)."""
    graded = {r.list_id for r in view.list_rules.values() if r.trigger.scheme is not None}
    every = {r.list_id for r in view.list_rules.values()}
    return tuple(sorted(lst for lst in every if not feeding(view, {lst}) & graded))


def chosen(b: Build, lists: Iterable[str] | None) -> tuple[str, ...]:
    """The lists compiled: those named (checked to be in force), or all in force."""
    every = sorted({r.list_id for r in b.view.list_rules.values()})
    if lists is None:
        return tuple(every)
    out = tuple(dict.fromkeys(lists))
    for lst in out:
        if lst not in every:
            raise Unsupported(f"list {lst!r} has no rule in force on {b.as_of}; in force: "
                              f"{', '.join(every) or 'none'}")
    return out


def compile_entries(b: Build, lists: Iterable[str] | None = None) -> str:
    """Register the entries CTE (``entries``) of the lists named (default: every list in
    force) and return its name."""
    wanted = chosen(b, lists)
    needed = feeding(b.view, wanted)
    rules = [r for r in b.view.list_rules.values() if r.list_id in needed]
    cats: set[str] = set()
    fields: set[str] = set()
    for r in rules:
        cats.update(r.trigger.categories)
        fields.update(f for t in r.trigger.amounts for f in (t.field, t.of) if f is not None)
        for v in b.policy.versions["list_rule"].get(r.id, ()):
            if v.grace_for is not None:
                cats.update(v.grace_for.categories)
    view = View.of(b.as_of)
    b.cte(STATES, states(view, sorted(cats), sorted(fields)))
    # repairs of any record: a held_for entry judges those of the records behind its source
    b.cte(REPAIRS, repairs(view, sorted({c.id for c in b.policy.all("category")})))
    parts: list[tuple[str, str]] = []  # (list, CTE of its entries by one rule version)
    for n, rule in enumerate(rules):
        tag = f"le{n}"
        t = rule.trigger
        source: str | None
        if t.categories:
            source = _record_source(b, rule, tag)
        elif t.scheme is not None:
            source = _grade_source(b, rule, tag)
        else:
            assert t.list is not None and t.held_for is not None
            source = _held_source(b, rule, [p for lst, p in parts if lst == t.list],
                                  t.held_for, tag)
        if source is None:
            continue
        for k, (gov, days) in enumerate(segments(b.policy, rule.id, b.as_of)):
            src = b.cte(f"{tag}_v{k}_src", exp.select(*_SOURCE).from_(source).where(
                _during(exp.column("listed_on"), days)))
            parts.append((gov.list_id, _entry(b, gov, src, f"{tag}_v{k}")))
    rows = [exp.select("*").from_(p) for lst, p in parts if lst in wanted]
    body: exp.Query = _empty() if not rows else rows[0]
    for q in rows[1:]:
        body = exp.union(body, q, distinct=False)
    return b.cte(ENTRIES, exp.select("*").from_(exp.alias_(exp.paren(body), "all_entries")))


def entries_output(b: Build, name: str) -> exp.Select:
    """The ``entries`` output rows (the contract's columns) from the CTE ``name``."""
    return exp.select(
        "key", "list", "rule", "subject", "listed_on", "start", "planned_end",
        exp.alias_(exp.column("end_on"), exp.to_identifier("end", quoted=True)), "status",
        "records").from_(name).order_by("subject", "list", "start", "key")


def segments(policy: Policy, rule_id: str, as_of: date) -> list[tuple[ListRule, list[
        tuple[date, date | None]]]]:
    """Each version of the rule that governs some day up to as-of, with those days as
    [from, to) intervals: the version ``policy.at(day)`` picks (a temporary one wins in its
    window), so that an entry keeps the version of its listing day."""
    versions = policy.versions["list_rule"].get(rule_id, ())
    cuts = sorted({d for v in versions for d in (v.effective_from, v.effective_to)
                   if d is not None and d <= as_of})
    out: dict[int, tuple[ListRule, list[tuple[date, date | None]]]] = {}
    for i, start in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else None
        gov = policy.at(start).list_rules.get(rule_id)
        if gov is None:
            continue
        days = out.setdefault(id(gov), (gov, []))[1]
        if days and days[-1][1] == start:
            days[-1] = (days[-1][0], end)
        else:
            days.append((start, end))
    return list(out.values())


def _during(d: exp.Expr, days: list[tuple[date, date | None]]) -> exp.Expr:
    return exp.or_(*(exp.and_(exp.GTE(this=d, expression=day(a)), *(
        [exp.LT(this=d, expression=day(z))] if z is not None else [])) for a, z in days))


def _empty() -> exp.Select:
    typed = (("key", "VARCHAR"), ("list", "VARCHAR"), ("rule", "VARCHAR"),
             ("subject", "VARCHAR"), ("listed_on", "DATE"), ("start", "DATE"),
             ("planned_end", "DATE"), ("end_on", "DATE"), ("status", "VARCHAR"),
             ("records", "ARRAY<VARCHAR>"), ("rkey", "VARCHAR"))
    return exp.select(*(exp.alias_(exp.cast(exp.null(), t), c) for c, t in typed)).where(
        exp.false())


def _applies(b: Build, rule: ListRule, subject: exp.Expr) -> tuple[exp.Expr, exp.Expr]:
    """(join condition on ``subjects AS sub``, filter): the rule's subject kinds and regions."""
    cond: exp.Expr = exp.column("kind", "sub").isin(*(lit(k.value) for k in rule.subject_kinds))
    if rule.regions:
        cond = exp.and_(cond, exp.or_(*(
            exp.StartsWith(this=exp.column("region", "sub"), expression=lit(p))
            for p in rule.regions)))
    return exp.EQ(this=exp.column("id", "sub"), expression=subject), cond


def _record_source(b: Build, rule: ListRule, tag: str) -> str:
    """The rule's triggering records (the as-of version's categories and amount tests, after
    corrections), each with the number of earlier hits for its subject in (effective, id)
    order (``_record_entries``)."""
    t = rule.trigger
    on, applies = _applies(b, rule, exp.column("subject", "s"))
    earlier = exp.Window(this=exp.RowNumber(), partition_by=[exp.column("subject", "s")],
                         order=exp.Order(expressions=[exp.Ordered(this=exp.column(c, "s"))
                                                      for c in ("effective", "id")]))
    q = exp.select(
        exp.column("subject", "s"), exp.alias_(exp.column("effective", "s"), "listed_on"),
        exp.alias_(exp.Array(expressions=[exp.column("id", "s")]), "records"),
        exp.alias_(exp.column("id", "s"), "rkey"), exp.column("rectified", "s"),
        exp.alias_(exp.Sub(this=earlier, expression=exp.Literal.number(1)), "earlier"),
        exp.alias_(exp.cast(exp.null(), "DATE"), "run_end"),
    ).from_(exp.alias_(exp.to_table(STATES), "s")).join(
        exp.alias_(exp.to_table("subjects"), "sub"), on=on).where(exp.and_(
            exp.column("category", "s").isin(*(lit(c) for c in t.categories)),
            amounts_pass(t.amounts, "s"), applies))
    return b.cte(f"{tag}_hits", q)


def _grade_source(b: Build, rule: ListRule, tag: str) -> str:
    """The runs of a triggering grade (``_grade_entries``), listed on the first day in the
    run a version of the rule is in force (``_rule_start``)."""
    t = rule.trigger
    assert t.scheme is not None
    try:
        runs_cte = runs.grade_runs(b, t.scheme)
    except Unsupported as e:
        raise Unsupported(where(b.policy, rule, (
            f"trigger.scheme = {t.scheme!r} (a grade-triggered list) is not compiled: {e}; "
            "leave the list out (compile_plan(lists=...), e.g. "
            f"{', '.join(grade_free(b.view)) or 'none'})"))) from None
    start, end = exp.column("start", "g"), exp.column("end", "g", quoted=True)
    firsts: list[exp.Expr] = []
    for v in b.policy.versions["list_rule"].get(rule.id, ()):
        first = exp.Greatest(this=start, expressions=[day(v.effective_from)])
        cond = [exp.or_(end.is_(exp.null()), exp.LT(this=first, expression=end))]
        if v.effective_to is not None:
            cond.append(exp.GT(this=day(v.effective_to), expression=start))
        firsts.append(exp.Case().when(exp.and_(*cond), first).else_(day(_FAR)))
    listed = exp.Nullif(this=_least(firsts), expression=day(_FAR))
    on, applies = _applies(b, rule, exp.column("subject", "g"))
    q = exp.select(
        exp.column("subject", "g"), exp.alias_(listed, "listed_on"), exp.column("records", "g"),
        exp.alias_(exp.ArrayToString(this=exp.column("records", "g"),
                                     expression=lit("+")), "rkey"),
        exp.alias_(exp.cast(exp.null(), "DATE"), "rectified"),
        exp.alias_(exp.Literal.number(0), "earlier"), exp.alias_(end, "run_end"),
    ).from_(exp.alias_(exp.to_table(runs_cte), "g")).join(
        exp.alias_(exp.to_table("subjects"), "sub"), on=on).where(exp.and_(
            exp.column("grade", "g").isin(*(lit(x) for x in t.grades)), applies))
    return b.cte(f"{tag}_runs", exp.select("*").from_(exp.alias_(exp.paren(q), "r")).where(
        exp.Not(this=exp.column("listed_on").is_(exp.null()))))


def _held_source(b: Build, rule: ListRule, sources: list[str], held: Period,
                 tag: str) -> str | None:
    """The entries of the source list held for ``held`` by as-of, and still held on the day
    it was reached: listed that day with the source's records."""
    if not sources:
        return None
    body: exp.Query = exp.select("subject", "start", "end_on", "records", "rkey").from_(
        sources[0])
    for s in sources[1:]:
        body = exp.union(body, exp.select("subject", "start", "end_on", "records",
                                          "rkey").from_(s), distinct=False)
    reached = after(exp.column("start", "e"), held)
    on, applies = _applies(b, rule, exp.column("subject", "e"))
    q = exp.select(
        exp.column("subject", "e"), exp.alias_(reached, "listed_on"), exp.column("records", "e"),
        exp.column("rkey", "e"), exp.alias_(exp.cast(exp.null(), "DATE"), "rectified"),
        exp.alias_(exp.Literal.number(0), "earlier"),
        exp.alias_(exp.cast(exp.null(), "DATE"), "run_end"),
    ).from_(exp.alias_(exp.paren(body), "e")).join(
        exp.alias_(exp.to_table("subjects"), "sub"), on=on).where(exp.and_(
            applies, exp.LTE(this=reached, expression=day(b.as_of)),
            exp.or_(exp.column("end_on", "e").is_(exp.null()),
                    exp.GTE(this=exp.column("end_on", "e"), expression=reached))))
    return b.cte(f"{tag}_held", q)


def _least(xs: list[exp.Expr]) -> exp.Expr:
    return xs[0] if len(xs) == 1 else exp.Least(this=xs[0], expressions=xs[1:])


def _far(x: exp.Expr) -> exp.Expr:
    return exp.Coalesce(this=x, expressions=[day(_FAR)])


def _entry(b: Build, gov: ListRule, src: str, tag: str) -> str:
    """``evaluate._entry`` of the governing version ``gov`` over the source rows ``src``:
    grace (``grace_for``: only if covered on the listing day), start, planned end with the
    extension for earlier hits, the ends (planned, maximum, performance plus N working days,
    the first valid repair), the end (the earliest) and the status on as-of."""
    h = exp.column
    start: exp.Expr = h("listed_on", "h")
    q = exp.select(*(h(c, "h") for c in _SOURCE)).from_(exp.alias_(exp.to_table(src), "h"))
    if gov.grace is not None and gov.grace_for is None:
        start = after(start, gov.grace)
    elif gov.grace is not None and gov.grace_for is not None:
        relief = gov.grace_for
        covered = exp.select(h("subject", "h"), h("listed_on", "h")).distinct().from_(
            exp.alias_(exp.to_table(src), "h")).join(
            exp.alias_(exp.to_table(STATES), "st"), on=exp.and_(
                exp.EQ(this=h("subject", "st"), expression=h("subject", "h")),
                h("category", "st").isin(*(lit(c) for c in relief.categories)),
                exp.LTE(this=h("effective", "st"), expression=h("listed_on", "h")),
                exp.GT(this=after(h("effective", "st"), relief.within),
                       expression=h("listed_on", "h"))))
        cov = b.cte(f"{tag}_covered", covered)
        q = q.join(exp.alias_(exp.to_table(cov), "cv"), on=exp.and_(
            exp.EQ(this=h("subject", "cv"), expression=h("subject", "h")),
            exp.EQ(this=h("listed_on", "cv"), expression=h("listed_on", "h"))), join_type="LEFT")
        start = exp.Case().when(exp.Not(this=h("subject", "cv").is_(exp.null())),
                                after(start, gov.grace)).else_(start)
    started = b.cte(f"{tag}_start", q.select(exp.alias_(start, "start")))

    a = exp.column
    rem = gov.removal
    planned = _planned(gov, a("start", "a"), a("earlier", "a"))
    ends: list[exp.Expr] = [planned] if gov.duration is not None else []
    if rem.maximum is not None:
        ends.append(after(a("start", "a"), rem.maximum))
    q = exp.select(*(a(c, "a") for c in (*_SOURCE, "start")), exp.alias_(
        planned if gov.duration is not None else exp.cast(exp.null(), "DATE"), "planned_end"),
    ).from_(exp.alias_(exp.to_table(started), "a"))
    if rem.rectification_working_days is not None:
        due, joins = calendar.working_days_after(b, gov.calendar, a("rectified", "a"),
                                                 rem.rectification_working_days, "wd")
        for table, on in joins:
            q = q.join(table, on=on, join_type="LEFT")
        ends.append(due)
    if rem.application_after is not None:
        earliest = after(a("start", "a"), rem.application_after)
        keys = ("subject", "rkey", "listed_on")
        rep = exp.select(*(a(k, "a") for k in keys), exp.alias_(
            exp.Min(this=a("repaired", "rp")), "repaired")).from_(
            exp.alias_(exp.to_table(started), "a")).join(
            exp.alias_(exp.to_table(REPAIRS), "rp"), on=exp.and_(
                exp.EQ(this=a("subject", "rp"), expression=a("subject", "a")),
                exp.ArrayContains(this=a("records", "a"), expression=a("record", "rp")),
                exp.GTE(this=a("repaired", "rp"), expression=earliest))).group_by(
            *(a(k, "a") for k in keys))
        reps = b.cte(f"{tag}_repair", rep)
        q = q.join(exp.alias_(exp.to_table(reps), "rep"), on=exp.and_(*(
            exp.EQ(this=a(k, "rep"), expression=a(k, "a")) for k in keys)), join_type="LEFT")
        ends.append(a("repaired", "rep"))
    end: exp.Expr = exp.cast(exp.null(), "DATE") if not ends else exp.Nullif(
        this=_least([_far(x) for x in ends]), expression=day(_FAR))
    ended = b.cte(f"{tag}_ends", q.select(exp.alias_(end, "end_on")))
    return b.cte(tag, _finish(b, gov, ended))


def _finish(b: Build, gov: ListRule, ended: str) -> exp.Select:
    """Key, list and status; a grade run that ends first ends the entry (``_grade_entries``)."""
    c = exp.column
    as_of = day(b.as_of)
    run_first = exp.and_(exp.Not(this=c("run_end").is_(exp.null())), exp.or_(
        c("end_on").is_(exp.null()), exp.LT(this=c("run_end"), expression=c("end_on"))))
    end = exp.Case().when(run_first, c("run_end")).else_(c("end_on"))
    status = exp.Case().when(exp.and_(
        exp.LT(this=as_of, expression=c("start")),
        exp.or_(c("end_on").is_(exp.null()), exp.LT(this=as_of, expression=c("end_on")))),
        lit(EntryStatus.PENDING.value)).when(exp.and_(
            exp.Not(this=c("end_on").is_(exp.null())),
            exp.GTE(this=as_of, expression=c("end_on"))), lit(EntryStatus.ENDED.value)).else_(
        lit(EntryStatus.ACTIVE.value))
    status = exp.Case().when(exp.and_(run_first, exp.GTE(this=as_of, expression=c("run_end"))),
                             lit(EntryStatus.ENDED.value)).else_(status)
    key = exp.Concat(expressions=[
        lit(gov.list_id), lit(":"), c("subject"), lit(":"), exp.cast(c("start"), "VARCHAR"),
        lit(":"), c("rkey")])
    return exp.select(
        exp.alias_(key, "key"), exp.alias_(lit(gov.list_id), "list"),
        exp.alias_(lit(gov.id), "rule"), "subject", "listed_on", "start", "planned_end",
        exp.alias_(end, "end_on"), exp.alias_(status, "status"), "records", "rkey",
    ).from_(ended)


def _planned(gov: ListRule, start: exp.Expr, earlier: exp.Expr) -> exp.Expr:
    """The planned end: duration after start, plus ``extension.by`` once per earlier hit
    (applied one at a time, as months clamp), at most ``extension.max`` beyond it."""
    if gov.duration is None:
        return exp.cast(exp.null(), "DATE")
    planned = after(start, gov.duration)
    ext = gov.extension
    if ext is None:
        return planned
    shortest = 28 * (12 * ext.by.years + ext.by.months) + ext.by.days
    if shortest == 0:  # a zero step never extends
        return planned
    longest = after(planned, ext.max)
    span = 31 * (12 * ext.max.years + ext.max.months) + ext.max.days + 1
    steps = -(-span // shortest) + 1
    if steps > 64:
        raise Unsupported(f"list rule {gov.id!r}: extension.by {ext.by} against max {ext.max} "
                          "needs more than 64 steps; the batch evaluator unrolls at most 64")
    case = exp.Case().when(exp.EQ(this=earlier, expression=exp.Literal.number(0)), planned)
    step = planned
    for k in range(1, steps + 1):
        step = after(step, ext.by)
        case = case.when(exp.EQ(this=earlier, expression=exp.Literal.number(k)),
                         _least([step, longest]))
    return case.else_(longest)
