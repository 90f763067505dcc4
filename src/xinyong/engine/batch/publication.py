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
from xinyong.engine.batch.facts import KNOWN, KNOWN_EVENTS, View
from xinyong.engine.batch.repairs import name_of
from xinyong.engine.batch.sql import day, instant
from xinyong.engine.rating import reads_of
from xinyong.model import EventKind
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
    revoked = (
        exp.select("record")
        .from_(KNOWN_EVENTS, copy=False)
        .where(
            exp.and_(
                exp.EQ(
                    this=exp.column("kind"), expression=exp.Literal.string(EventKind.REVOKED.value)
                ),
                exp.LTE(this=exp.column("effective"), expression=day(b.as_of)),
            ),
            copy=False,
        )
    )
    reassessed = (
        exp.select(
            exp.column("subject", "r"),
            exp.alias_(exp.Max(this=exp.column("effective", "r")), "assessed", copy=False),
        )
        .from_(exp.alias_(exp.to_table(KNOWN), "r", copy=False), copy=False)
        .where(
            exp.and_(
                exp.column("category", "r").isin(*(exp.Literal.string(c) for c in pub.reassessment))
                if pub.reassessment
                else exp.false(),
                exp.GT(this=exp.column("effective", "r"), expression=day(published)),
                exp.LTE(this=exp.column("effective", "r"), expression=day(b.as_of)),
                exp.Not(this=exp.column("id", "r").isin(query=revoked)),
            ),
            copy=False,
        )
        .group_by(exp.column("subject", "r"), copy=False)
    )
    assessed = exp.Coalesce(this=exp.column("assessed", "ra"), expressions=[day(published)])
    end_of_day = exp.cast(
        exp.DPipe(
            this=exp.cast(assessed, "VARCHAR"), expression=exp.Literal.string(" 23:59:59.999999")
        ),
        "TIMESTAMP",
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
    from xinyong.engine.batch.ratings import rated_at

    found = year_view(b, scheme)
    if found is None:
        return exp.select(
            *(
                exp.alias_(exp.cast(exp.null(), t), c, copy=False)
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
    from xinyong.engine.batch.ratings import applies, rated_at

    scheme = b.view.schemes.get(scheme_id)
    found = year_view(b, scheme) if scheme is not None else None
    if scheme is None or found is None:
        return exp.select(
            exp.alias_(exp.cast(exp.null(), "VARCHAR"), "subject", copy=False),
            exp.alias_(exp.cast(exp.null(), "VARCHAR"), "grade", copy=False),
            exp.alias_(exp.cast(exp.null(), "VARCHAR[]"), "records", copy=False),
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
