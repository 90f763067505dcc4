"""Grade runs compiled (``engine.history.grade_runs``): per subject and scheme, the maximal
intervals of one grade from the first turning point to as-of, for grade-triggered lists.

The turning points are the days on which a subject's grade can change (versions of the
schemes it reads, its records' effective days, window ends and events, its registration and
opt-ins; for a published scheme, its publication days and the subject's own records). The
grade is rated on each, in one query over a table of (subject, day) points, and consecutive
equal grades are merged with window functions.
"""

from __future__ import annotations

from datetime import date

import sqlglot
import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.facts import KNOWN, KNOWN_EVENTS, View, revoked_by
from xinyong.engine.batch.publication import published_at
from xinyong.engine.batch.ratings import rated_at
from xinyong.engine.batch.sql import Unsupported, after, day, empty_list
from xinyong.engine.rating import Reads, reads_of


def _cte_name(kind: str, scheme: str) -> str:
    return f"{kind}_" + "".join(c if c.isalnum() else "_" for c in scheme)


def _constant_days(b: Build, reads: Reads) -> list[date]:
    """Days every subject shares: versions of the schemes read, publication days, as-of."""
    days = {b.as_of}
    for ident in reads.schemes:
        for v in b.policy.versions["scheme"].get(ident, ()):
            days.add(v.effective_from)
            if v.effective_to is not None:
                days.add(v.effective_to)
    for version in reads.publications:
        pub = version.publication
        assert pub is not None
        year = version.effective_from.year
        while (d := date(year, pub.month, pub.day)) <= b.as_of:
            if version.effective_from <= d:
                days.add(d)
            year += 1
    return sorted(d for d in days if reads.first <= d <= b.as_of)


def _union(parts: list[exp.Select]) -> exp.Expr:
    out: exp.Expr = parts[0]
    for p in parts[1:]:
        out = exp.union(out, p, distinct=False)
    return out


def _days_of(q: exp.Select, col: exp.Expr) -> exp.Select:
    return q.select(exp.alias_(exp.column("subject", "r"), "subject"),
                    exp.alias_(exp.cast(col, "DATE"), "day"), append=False)


OPT_INS = "subject_opt_ins"
"""CTE: (subject, programme, since), one row per opt-in of a subject."""


def opt_ins(b: Build) -> str:
    """Register :data:`OPT_INS` (the subjects' opt-in lists unnested) and return its name."""
    q = sqlglot.parse_one(
        "SELECT s.id AS subject, u.o.programme AS programme, u.o.since AS since "
        "FROM subjects AS s CROSS JOIN UNNEST(s.opt_ins) AS u(o)", read="duckdb")
    assert isinstance(q, exp.Select)
    return b.cte(OPT_INS, q)


def turning_points(b: Build, scheme: str) -> str:
    """Register the CTE of (subject, day) turning points of ``scheme`` for every subject of
    its kinds, as ``engine.history._turning_points``, and return its name."""
    name = _cte_name("turning", scheme)
    if name in b.ctes:
        return name
    reads = reads_of(b.policy, scheme)
    if reads.links and not reads.publications:
        raise Unsupported(f"scheme {scheme!r}: grade runs of a scheme whose conditions follow "
                          "links are not compiled by the batch evaluator yet (its turning "
                          "points include the linked subjects' records)")
    kinds = sorted({k.value for ident in reads.schemes
                    for v in b.policy.versions["scheme"].get(ident, ()) for k in v.subject_kinds})
    subjects = exp.select(exp.alias_(exp.column("id"), "subject")).from_("subjects").where(
        exp.column("kind").isin(*(exp.Literal.string(k) for k in kinds)))
    consts = _constant_days(b, reads)
    parts: list[exp.Select] = [
        exp.select("s.subject", exp.alias_(day(d), "day")).from_(
            exp.alias_(exp.paren(subjects), "s")) for d in consts]
    cats = sorted(reads.categories)
    own = exp.select().from_(exp.alias_(exp.to_table(KNOWN), "r")).where(exp.and_(
        exp.column("category", "r").isin(*(exp.Literal.string(c) for c in cats))
        if cats else exp.false(),
        exp.LTE(this=exp.column("effective", "r"), expression=day(b.as_of))))
    if reads.publications:
        # published: only the subject's own records in effect on as-of and not revoked by it
        revoked = revoked_by(b.as_of)
        parts.append(_days_of(own.where(exp.Not(this=exp.column("id", "r").isin(
            query=revoked))), exp.column("effective", "r")))
    else:
        windows = sorted(reads.windows, key=str)
        parts.append(_days_of(own.copy(), exp.column("effective", "r")))
        parts += [_days_of(own.copy(), after(exp.column("effective", "r"), w)) for w in windows]
        parts.append(_days_of(own.copy().join(
            exp.alias_(exp.to_table(KNOWN_EVENTS), "ev"),
            on=exp.EQ(this=exp.column("record", "ev"), expression=exp.column("id", "r"))),
            exp.column("effective", "ev")))
        reg = exp.select().from_(exp.alias_(exp.to_table("subjects"), "r")).where(
            exp.Not(this=exp.column("registered", "r").is_(exp.null())))
        # subjects' own dates: ``r`` is the subject row here, so subject = r.id
        for d in [exp.column("registered", "r"),
                  *(after(exp.column("registered", "r"), w) for w in windows)]:
            parts.append(reg.copy().select(exp.alias_(exp.column("id", "r"), "subject"),
                                           exp.alias_(exp.cast(d, "DATE"), "day")))
        opt = exp.select(exp.alias_(exp.column("id", "s"), "subject"),
                         exp.alias_(exp.column("since", "o"), "day")).from_(
            exp.alias_(exp.to_table(opt_ins(b)), "o")).join(
            exp.alias_(exp.to_table("subjects"), "s"),
            on=exp.EQ(this=exp.column("subject", "o"), expression=exp.column("id", "s")))
        parts.append(opt)
    allowed = exp.select("subject", "day").from_(exp.alias_(exp.paren(_union(parts)), "d")).where(
        exp.and_(exp.GTE(this=exp.column("day"), expression=day(reads.first)),
                 exp.LTE(this=exp.column("day"), expression=day(b.as_of)),
                 exp.column("subject").isin(query=subjects.copy()))).distinct()
    return b.cte(name, allowed)


def runs_of(rated: exp.Expr) -> exp.Select:
    """Maximal runs of one grade from ``rated`` (subject, day, grade, records: the rating on
    each turning point, grade NULL where the scheme does not apply): a run starts on its
    first day and ends where the next starts (``engine.history.grade_runs``; the first point
    always starts one, even a day without a grade)."""
    order = exp.Order(expressions=[exp.Ordered(this=exp.column("day"))])
    graded = exp.select("subject", "day", exp.alias_(exp.Coalesce(
        this=exp.column("grade"), expressions=[exp.Literal.string("")]), "grade"),
        "records").from_(exp.alias_(exp.paren(rated), "x"))
    prev = exp.Window(this=exp.Lag(this=exp.column("grade")),
                      partition_by=[exp.column("subject")], order=order)
    lagged = exp.select("*", exp.alias_(prev, "before")).from_(
        exp.alias_(exp.paren(graded), "g"))
    starts = exp.select("subject", "day", "grade", "records").from_(
        exp.alias_(exp.paren(lagged), "l")).where(exp.or_(
            exp.column("before").is_(exp.null()),
            exp.NEQ(this=exp.column("before"), expression=exp.column("grade"))))
    nxt = exp.Window(this=exp.Lead(this=exp.column("day")),
                     partition_by=[exp.column("subject")], order=order.copy())
    return exp.select("subject", exp.alias_(exp.column("day"), "start"),
                      exp.alias_(nxt, "end"), "grade", "records").from_(
        exp.alias_(exp.paren(starts), "st"))


def grade_runs(b: Build, scheme: str) -> str:
    """Register the CTE of ``scheme``'s grade runs and return its name. Columns: ``subject``,
    ``start`` (DATE), ``end`` (DATE, NULL while the run lasts), ``grade`` ('' where the
    scheme does not apply) and ``records`` (the rating's records on the run's first day, in
    :attr:`Rating.records` order, as a list of strings)."""
    name = _cte_name("runs", scheme)
    if name in b.ctes:
        return name
    published = bool(reads_of(b.policy, scheme).publications)
    points = turning_points(b, scheme)
    # grades on every turning point; the records only on the first day of each run, where
    # they are read (building record lists on every point costs ten times the grades)
    graded = exp.select("t.subject", "t.day", "x.grade", exp.alias_(
        exp.cast(exp.null(), "VARCHAR[]"), "records")).from_(
        exp.alias_(exp.to_table(points), "t")).join(
        exp.alias_(exp.paren(_rated(b, scheme, points, published)), "x"),
        on=_same_point("x", "t"), join_type="LEFT")
    bare = b.cte(_cte_name("bare_runs", scheme), runs_of(graded))
    starts = b.cte(_cte_name("run_starts", scheme), exp.select(
        "subject", exp.alias_(exp.column("start"), "day")).from_(bare))
    records: exp.Expr = exp.Coalesce(this=exp.column("records", "x"),
                                     expressions=[empty_list()])
    if published:
        # and the re-evaluation record, once (``engine.history._rating_records``)
        by = exp.column("reassessed_by", "x")
        records = exp.Case().when(exp.or_(by.is_(exp.null()), exp.ArrayContains(
            this=records.copy(), expression=by.copy())), records).else_(exp.ArrayConcat(
                this=records.copy(), expressions=[exp.Array(expressions=[by.copy()])]))
    q = exp.select("u.subject", "u.start", "u.end", "u.grade", exp.alias_(
        records, "records")).from_(exp.alias_(exp.to_table(bare), "u")).join(
        exp.alias_(exp.paren(_rated(b, scheme, starts, published)), "x"), on=exp.and_(
            exp.EQ(this=exp.column("subject", "x"), expression=exp.column("subject", "u")),
            exp.EQ(this=exp.column("day", "x"), expression=exp.column("start", "u"))),
        join_type="LEFT")
    return b.cte(name, q)


def _rated(b: Build, scheme: str, points: str, published: bool) -> exp.Select:
    """The rating on each point's day: published (``engine.rating.published_rating(on=day)``)
    or in the view of that day."""
    if published:
        return published_at(b, scheme, _view(b, points))
    return rated_at(b, scheme, _view(b, points))


def _view(b: Build, points: str) -> View:
    """The view of each point's day as known at as-of (a record revoked by as-of never
    existed, on any day), as ``engine.history._rating_on``."""
    on = exp.column("day", points)
    return View(on, on.copy(), None, b.as_of, points, ("day",))


def _same_point(a: str, t: str) -> exp.Expr:
    return exp.and_(
        exp.EQ(this=exp.column("subject", a), expression=exp.column("subject", t)),
        exp.EQ(this=exp.column("day", a), expression=exp.column("day", t)))
