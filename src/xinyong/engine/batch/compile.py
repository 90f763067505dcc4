"""The compiler's entry point: a policy, an as-of and a known-at in, a :class:`Plan` out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import sqlglot.expressions as exp

from xinyong.engine.batch import calendar, entries, measures, publication
from xinyong.engine.batch.build import Build, Grades
from xinyong.engine.batch.facts import View
from xinyong.engine.batch.plan import OUTPUTS, Plan
from xinyong.engine.batch.ratings import rated_at
from xinyong.engine.batch.sql import NUM, Unsupported
from xinyong.policy.model import Policy

GRADES = Grades(rated_at, publication.published_own)


def new_build(policy: Policy, as_of: date, known_at: datetime | None = None) -> Build:
    """A :class:`Build` on ``as_of`` at ``known_at`` (default: the end of as-of) whose grade
    tests read other schemes' ratings."""
    return Build(policy, as_of, known_at or datetime.combine(as_of, time.max), grades=GRADES)


def compile_plan(policy: Policy, as_of: date, *, known_at: datetime | None = None,
                 schemes: Iterable[str] | None = None, lists: Iterable[str] | None = None,
                 outputs: Iterable[str] = OUTPUTS, due_process: bool = False) -> Plan:
    """The plan rating every subject on ``as_of`` on what was recorded by ``known_at``
    (default: the end of as-of): the ``outputs`` asked for, under every scheme and list rule
    in force (or those named). With ``due_process``, measures read the input table
    ``confirmed(key)`` (reviewers' confirmations of entries) and mark significant ones not
    confirmed as pending review. Raises :class:`~xinyong.engine.batch.sql.Unsupported`, with
    file and key, for a construct it cannot express."""
    wanted = tuple(outputs)
    unknown = [o for o in wanted if o not in OUTPUTS]
    if unknown:
        raise ValueError(f"unknown output {unknown[0]!r}; choose from {', '.join(OUTPUTS)}")
    b = new_build(policy, as_of, known_at)
    queries: dict[str, exp.Expr] = {}
    checks: dict[str, exp.Expr] = {}
    rated: tuple[str, ...] = ()
    if "ratings" in wanted:
        queries["ratings"], rated = compile_ratings(b, schemes, checks)
    listed: tuple[str, ...] = ()
    if "entries" in wanted or "measures" in wanted:
        listed = entries.chosen(b, lists)
        name = entries.compile_entries(b, listed)
        if "entries" in wanted:
            queries["entries"] = b.with_ctes(entries.entries_output(b, name))
        if "measures" in wanted:
            queries["measures"] = b.with_ctes(
                measures.compile_measures(b, name, listed, due_process=due_process))
        cats = sorted({c for r in b.view.list_rules.values() for c in r.trigger.categories
                       if r.removal.rectification_working_days})
        checks["performed_before_calendar"] = b.with_ctes(calendar.too_early(cats))
    return Plan(queries, checks, rated, listed, as_of, b.known_at, policy.digest, b.tables)


def measures_over(policy: Policy, as_of: date, entries_table: str, *,
                  lists: Iterable[str] | None = None, due_process: bool = False,
                  known_at: datetime | None = None) -> Plan:
    """A plan whose one output, ``measures``, reads the entries already computed (the
    ``entries`` output of :func:`compile_plan` for the same as-of, lists and known-at,
    stored as ``entries_table``) instead of computing them again: on a generated population
    the measures then cost about a quarter of the entries, instead of the entries again
    plus that quarter. The entries table needs only the columns key, list, subject and
    status."""
    b = new_build(policy, as_of, known_at)
    listed = entries.chosen(b, lists)
    b.cte(entries.ENTRIES, exp.select("*").from_(exp.to_table(entries_table)))
    query = b.with_ctes(measures.compile_measures(b, entries.ENTRIES, listed,
                                                    due_process=due_process))
    return Plan({"measures": query}, {}, (), listed, as_of, b.known_at, policy.digest,
                b.tables)


_OUT = ("subject", "scheme", "score", "band_grade", "grade", "reasons")


def compile_ratings(
    b: Build, schemes: Iterable[str] | None, checks: dict[str, exp.Expr]
) -> tuple[exp.Expr, tuple[str, ...]]:
    """The ``ratings`` output query of the schemes named (default: all in force on as-of):
    (subject, scheme, score, band_grade, grade, reasons), published schemes as published;
    ``checks`` is for input rows it cannot rate: none, since every event kind is compiled."""
    view = b.view.schemes
    wanted = tuple(sorted(view)) if schemes is None else tuple(schemes)
    parts: list[exp.Select] = []
    for ident in wanted:
        if ident not in view:
            raise Unsupported(
                f"scheme {ident!r} is not in force on {b.as_of}; in force: "
                f"{', '.join(sorted(view)) or 'none'}"
            )
        s = view[ident]
        if s.publication is not None:
            parts.append(publication.published(b, s))
        else:
            parts.append(
                exp.select(*_OUT).from_(
                    exp.alias_(
                        exp.paren(rated_at(b, ident, View.of(b.as_of)), copy=False), "p", copy=False
                    ),
                    copy=False,
                )
            )
    cols = _OUT
    if parts:
        body: exp.Expr = parts[0]
        for p in parts[1:]:
            body = exp.union(body, p, distinct=False, copy=False)
    else:
        body = exp.select(
            *(
                exp.alias_(exp.cast(exp.null(), t, copy=False), c, copy=False)
                for c, t in zip(
                    cols,
                    ("VARCHAR", "VARCHAR", NUM, "VARCHAR", "VARCHAR", "VARCHAR[]"),
                    strict=True,
                )
            )
        ).where(exp.false(), copy=False)
    query = (
        exp.select(*cols)
        .from_(exp.alias_(exp.paren(body, copy=False), "rated_all", copy=False), copy=False)
        .order_by("scheme", "subject", copy=False)
    )
    return b.with_ctes(query), wanted


def compile_points(
    policy: Policy,
    as_of: date,
    schemes: Iterable[str] | None = None,
    known_at: datetime | None = None,
) -> Plan:
    """The plan rating every subject on ``as_of`` (kept for callers of the first step)."""
    b = new_build(policy, as_of, known_at)
    checks: dict[str, exp.Expr] = {}
    q, wanted = compile_ratings(b, schemes, checks)
    return Plan({"ratings": q}, checks, wanted, (), as_of, b.known_at, policy.digest)
