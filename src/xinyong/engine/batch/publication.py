"""Ratings published once a year (``engine.rating.published_rating``): the rating in force on
as-of is the one determined on the last publication day (or a later granted re-evaluation,
a record of ``reassessment``) for the calendar year before, under that year's rules, on
what was known by the end of the day it was determined; a revocation by as-of takes the
revoked record out. Each subject is rated in its own year view: a table of points (subject,
day = the year's end, events_on = the assessed day, cut = the end of that day or known-at,
the earlier). Pure: SQLGlot expressions."""

from __future__ import annotations

from datetime import date

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.facts import KNOWN, View, revoked_by
from xinyong.engine.batch.ratings import COLUMNS, applies, rated_at, versions
from xinyong.engine.batch.repairs import name_of
from xinyong.engine.batch.sql import Unsupported, day, instant, not_compiled
from xinyong.engine.rating import reads_of
from xinyong.policy.schema import Scheme


def year_points(b: Build, scheme: Scheme) -> tuple[str, date] | None:
    """The CTE of every subject's year view for the rating in force on as-of, and the
    year's end; None when no version of the scheme was in force at that year's end."""
    pub = scheme.publication
    assert pub is not None
    published = pub.latest(b.as_of)
    year_end = date(published.year - 1, 12, 31)
    if b.policy.at(year_end).schemes.get(scheme.id) is None:
        return None
    # the last granted re-evaluation since publication, among the records of the as-of view
    revoked = revoked_by(b.as_of)
    reassessed = (
        exp.select(
            exp.column("subject", "r"),
            exp.alias_(exp.Max(this=exp.column("effective", "r")), "assessed", copy=False),
        )
        .from_(exp.alias_(exp.to_table(KNOWN), "r", copy=False), copy=False)
        .where(
            exp.and_(
                exp.column("category", "r").isin(
                    *(exp.Literal.string(c) for c in pub.reassessment), copy=False
                )
                if pub.reassessment
                else exp.false(),
                exp.GT(this=exp.column("effective", "r"), expression=day(published)),
                exp.LTE(this=exp.column("effective", "r"), expression=day(b.as_of)),
                exp.Not(this=exp.column("id", "r").isin(query=revoked, copy=False)),
                copy=False,
            ),
            copy=False,
        )
        .group_by(exp.column("subject", "r"), copy=False)
    )
    assessed = exp.Coalesce(this=exp.column("assessed", "ra"), expressions=[day(published)])
    end_of_day = exp.cast(
        exp.DPipe(
            this=exp.cast(assessed, "VARCHAR", copy=False),
            expression=exp.Literal.string(" 23:59:59.999999"),
        ),
        "TIMESTAMP",
        copy=False,
    )
    points = (
        exp.select(
            exp.alias_(exp.column("id", "s"), "subject", copy=False),
            exp.alias_(day(year_end), "day", copy=False),
            exp.alias_(assessed.copy(), "events_on", copy=False),
            exp.alias_(
                exp.Least(this=instant(b.known_at), expressions=[end_of_day]), "cut", copy=False
            ),
        )
        .from_(exp.alias_(exp.to_table("subjects"), "s", copy=False), copy=False)
        .join(
            exp.alias_(exp.paren(reassessed, copy=False), "ra", copy=False),
            on=exp.EQ(this=exp.column("subject", "ra"), expression=exp.column("id", "s")),
            join_type="LEFT",
            copy=False,
        )
    )
    return b.cte(name_of("year", points), points), year_end


def year_view(b: Build, scheme: Scheme) -> tuple[View, frozenset[str]] | None:
    """The view of every subject's rated year, and the categories it reads."""
    found = year_points(b, scheme)
    if found is None:
        return None
    name, year_end = found
    view = View(
        exp.column("day", name),
        exp.column("events_on", name),
        exp.column("cut", name),
        b.as_of,
        name,
        (),
        fixed=year_end,
        year=True,
    )
    return view, frozenset(reads_of(b.policy, scheme.id).categories)


def published(b: Build, scheme: Scheme) -> exp.Select:
    """(subject, scheme, score, band_grade, grade, reasons) of the ratings in force on as-of."""
    found = year_view(b, scheme)
    if found is None:
        return exp.select(
            *(
                exp.alias_(exp.cast(exp.null(), t, copy=False), c, copy=False)
                for c, t in (
                    ("subject", "VARCHAR"),
                    ("scheme", "VARCHAR"),
                    ("score", "DECIMAL(38, 6)"),
                    ("band_grade", "VARCHAR"),
                    ("grade", "VARCHAR"),
                    ("reasons", "VARCHAR[]"),
                )
            )
        ).where(exp.false(), copy=False)
    view, only = found
    rated = rated_at(b, scheme.id, view, only=only)
    return exp.select("subject", "scheme", "score", "band_grade", "grade", "reasons").from_(
        exp.alias_(exp.paren(rated, copy=False), "p", copy=False), copy=False
    )


def published_own(b: Build, scheme_id: str) -> exp.Select:
    """(subject, grade, records) of the ratings published under ``scheme_id`` in force on
    as-of, on each subject's own records (links not followed), for the subjects the as-of
    version applies to (``engine.rating._own_rating`` in the as-of view)."""
    scheme = b.view.schemes.get(scheme_id)
    found = year_view(b, scheme) if scheme is not None else None
    if scheme is None or found is None:
        return exp.select(
            exp.alias_(exp.cast(exp.null(), "VARCHAR", copy=False), "subject", copy=False),
            exp.alias_(exp.cast(exp.null(), "VARCHAR", copy=False), "grade", copy=False),
            exp.alias_(exp.cast(exp.null(), "VARCHAR[]", copy=False), "records", copy=False),
        ).where(exp.false(), copy=False)
    view, only = found
    rated = rated_at(b, scheme_id, view, follow_links=False, only=only)
    return (
        exp.select(exp.column("subject", "p"), exp.column("grade", "p"), exp.column("records", "p"))
        .from_(exp.alias_(exp.paren(rated, copy=False), "p", copy=False), copy=False)
        .join(
            exp.alias_(exp.to_table("subjects"), "s", copy=False),
            on=exp.EQ(this=exp.column("id", "s"), expression=exp.column("subject", "p")),
            copy=False,
        )
        .where(applies(b.policy, scheme, View.of(b.as_of), "s"), copy=False)
    )


PUBLISHED_COLUMNS = ("assessed_on", "reassessed_by")
"""The columns :func:`published_at` gives after ``ratings.COLUMNS``."""


def _latest(on: exp.Expr, month: int, dd: int) -> exp.Expr:
    """``Publication.latest(on)``: the last publication day on or before ``on``."""
    year = exp.Year(this=on.copy())
    this_year = exp.DateFromParts(
        year=year, month=exp.Literal.number(month), day=exp.Literal.number(dd)
    )
    last_year = exp.DateFromParts(
        year=exp.Sub(this=year.copy(), expression=exp.Literal.number(1)),
        month=exp.Literal.number(month),
        day=exp.Literal.number(dd),
    )
    return (
        exp.Case()
        .when(exp.LTE(this=this_year, expression=on.copy()), this_year.copy(), copy=False)
        .else_(last_year, copy=False)
    )


def published_at(b: Build, scheme_id: str, view: View) -> exp.Select:
    """The published ratings in force on each point's day (``published_rating(on=day)`` in
    the as-of view, as grade runs read them): (view keys, ``ratings.COLUMNS``,
    :data:`PUBLISHED_COLUMNS`). Every version must publish alike (month, day, re-evaluation
    categories); the rated year's version rates it."""
    mine = b.policy.versions["scheme"].get(scheme_id, ())
    pubs = {
        (v.publication.month, v.publication.day, v.publication.reassessment)
        for v in mine
        if v.publication is not None
    }
    if len(pubs) != 1 or any(v.publication is None for v in mine) or view.points is None:
        raise Unsupported(
            not_compiled(
                b.policy,
                mine[0],
                "publication (versions publishing differently, or a view without points)",
            )
        )
    ((month, dd, reassessment),) = pubs
    p = view.points
    published = _latest(view.on, month, dd)
    revoked = revoked_by(b.as_of)
    keys = [exp.column(k, p) for k in view.keys]
    last = exp.Max(
        this=exp.Case().when(
            exp.and_(
                exp.GT(this=exp.column("effective", "r"), expression=published),
                exp.LTE(this=exp.column("effective", "r"), expression=view.on.copy()),
                copy=False,
            ),
            exp.Struct(
                expressions=[
                    exp.PropertyEQ(
                        this=exp.to_identifier("e"), expression=exp.column("effective", "r")
                    ),
                    exp.PropertyEQ(this=exp.to_identifier("i"), expression=exp.column("id", "r")),
                ]
            ),
            copy=False,
        )
    )
    reassessed = (
        exp.select(*keys, exp.column("subject", p), exp.alias_(last, "last", copy=False))
        .from_(exp.to_table(p), copy=False)
        .join(
            exp.alias_(exp.to_table(KNOWN), "r", copy=False),
            on=exp.and_(
                exp.EQ(this=exp.column("subject", "r"), expression=exp.column("subject", p)),
                exp.column("category", "r").isin(
                    *(exp.Literal.string(c) for c in reassessment), copy=False
                )
                if reassessment
                else exp.false(),
                exp.Not(this=exp.column("id", "r").isin(query=revoked, copy=False)),
                copy=False,
            ),
            copy=False,
        )
        .group_by(*keys, exp.column("subject", p), copy=False)
    )
    assessed = exp.Coalesce(
        this=exp.Dot(this=exp.column("last", "ra"), expression=exp.to_identifier("e")),
        expressions=[published.copy()],
    )
    end_of_day = exp.cast(
        exp.DPipe(
            this=exp.cast(assessed, "VARCHAR", copy=False),
            expression=exp.Literal.string(" 23:59:59.999999"),
        ),
        "TIMESTAMP",
        copy=False,
    )
    year_end = exp.DateFromParts(
        year=exp.Sub(this=exp.Year(this=published.copy()), expression=exp.Literal.number(1)),
        month=exp.Literal.number(12),
        day=exp.Literal.number(31),
    )
    on = [
        exp.EQ(this=exp.column("subject", "ra"), expression=exp.column("subject", p)),
        *(exp.EQ(this=exp.column(k, "ra"), expression=exp.column(k, p)) for k in view.keys),
    ]
    points = (
        exp.select(
            *keys,
            exp.column("subject", p),
            exp.alias_(year_end, "y_day", copy=False),
            exp.alias_(assessed.copy(), "y_events_on", copy=False),
            exp.alias_(
                exp.Least(this=instant(b.known_at), expressions=[end_of_day]), "y_cut", copy=False
            ),
            exp.alias_(
                exp.Dot(this=exp.column("last", "ra"), expression=exp.to_identifier("i")),
                "reassessed_by",
                copy=False,
            ),
        )
        .from_(exp.to_table(p), copy=False)
        .join(
            exp.alias_(exp.paren(reassessed, copy=False), "ra", copy=False),
            on=exp.and_(*on, copy=False),
            join_type="LEFT",
            copy=False,
        )
    )
    # no rating on a day no version is in force (``history._rating_on``)
    spans: list[exp.Expr] = []
    for start, end, _v in versions(b.policy, scheme_id):
        span: list[exp.Expr] = [exp.true()]
        if start is not None:
            span.append(exp.GTE(this=view.on.copy(), expression=day(start)))
        if end is not None:
            span.append(exp.LT(this=view.on.copy(), expression=day(end)))
        spans.append(exp.and_(*span, copy=False))
    points = points.where(exp.or_(*spans, copy=False) if spans else exp.false(), copy=False)
    name = b.cte(name_of("ypts", points), points)
    year = View(
        exp.column("y_day", name),
        exp.column("y_events_on", name),
        exp.column("y_cut", name),
        b.as_of,
        name,
        view.keys,
        None,
        True,
    )
    rated = rated_at(b, scheme_id, year, only=frozenset(reads_of(b.policy, scheme_id).categories))
    join_on = [
        exp.EQ(this=exp.column("subject", "y"), expression=exp.column("subject", "v")),
        *(exp.EQ(this=exp.column(k, "y"), expression=exp.column(k, "v")) for k in view.keys),
    ]
    return (
        exp.select(
            *(exp.column(k, "v") for k in view.keys),
            *(exp.column(c, "v") for c in COLUMNS),
            exp.alias_(exp.column("y_events_on", "y"), "assessed_on", copy=False),
            exp.column("reassessed_by", "y"),
        )
        .from_(exp.alias_(exp.paren(rated, copy=False), "v", copy=False), copy=False)
        .join(
            exp.alias_(exp.to_table(name), "y", copy=False),
            on=exp.and_(*join_on, copy=False),
            copy=False,
        )
    )
