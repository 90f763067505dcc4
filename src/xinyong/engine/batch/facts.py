"""The facts as the compiled plan sees them (``engine.facts.known_inputs`` and ``view_on``):
each record once, as first recorded and known by ``known_at``; in a view, the records in
effect by its day, not revoked by as-of, with their amounts after corrections, the day
their obligation was performed and their repairs. Pure: SQLGlot expressions.

A view is given by expressions for its day, the day its events count to and its cut (the
transaction time it reads to): literals for one view of everyone, or columns of a table of
evaluation points (subject, day, …) joined on the subject, for many views at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlglot.expressions as exp

from xinyong.engine.batch.sql import amount_column, day, instant, json_amount
from xinyong.model import EventKind

KNOWN = "known_records"
"""CTE: every record once (the first recorded by known-at), of a subject in ``subjects``."""
KNOWN_EVENTS = "known_events"
"""CTE: the events recorded by known-at on a known record."""


@dataclass(frozen=True, slots=True)
class View:
    """The dated view a query reads: ``on`` (records in effect by then), ``events_on``
    (events in effect by then), ``cut`` (recorded by then), ``revoked_on`` (a record revoked
    by then never existed) and, for many views at once, the table of points joined on
    ``subject`` whose columns the expressions name."""

    on: exp.Expr
    events_on: exp.Expr
    cut: exp.Expr | None
    revoked_on: date
    points: str | None = None
    """Alias of a table with a ``subject`` column the view's expressions read, or None."""
    keys: tuple[str, ...] = ()
    """Columns of ``points`` carried into every row (identify the view)."""
    fixed: date | None = None
    """The view's day when it is one day for every point (the policy version is known)."""
    year: bool = False
    """The view of a published rating's year: ratings inside it are computed plainly."""
    span: tuple[date | None, date | None] = (None, None)
    """Bounds [start, end) known to hold every point's day (None: open), so that a rating
    inside the view unions only the scheme versions in force then."""

    @classmethod
    def of(cls, as_of: date) -> View:
        """The plain view on as-of of everything known (``engine.facts.view_on(on=as_of)``)."""
        return cls(day(as_of), day(as_of), None, as_of, fixed=as_of)


def known_ctes(known_at: datetime) -> list[tuple[str, exp.Select]]:
    """(name, query) of the CTEs every view reads: :data:`KNOWN` and :data:`KNOWN_EVENTS`."""
    first = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column("id")],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column("recorded_at"))]),
    )
    ranked = (
        exp.select("*", exp.alias_(first, "nth", copy=False))
        .from_("records", copy=False)
        .where(
            exp.and_(
                exp.LTE(this=exp.column("recorded_at"), expression=instant(known_at)),
                exp.column("subject").isin(query=exp.select("id").from_("subjects", copy=False)),
            ),
            copy=False,
        )
    )
    known = (
        exp.select(
            "id", "subject", "category", "effective", "recorded_at", "amounts", "legal_basis"
        )
        .from_(exp.alias_(exp.paren(ranked, copy=False), "k", copy=False), copy=False)
        .where(exp.EQ(this=exp.column("nth"), expression=exp.Literal.number(1)), copy=False)
    )
    events = (
        exp.select("e.id", "e.record", "e.kind", "e.effective", "e.recorded_at", "e.amounts")
        .from_(exp.alias_(exp.to_table("events"), "e", copy=False), copy=False)
        .where(
            exp.and_(
                exp.LTE(this=exp.column("recorded_at", "e"), expression=instant(known_at)),
                exp.column("record", "e").isin(query=exp.select("id").from_(KNOWN, copy=False)),
            ),
            copy=False,
        )
    )
    return [(KNOWN, known), (KNOWN_EVENTS, events)]


def _event_in_view(view: View, kinds: Iterable[EventKind]) -> exp.Expr:
    """Event ``ev`` on record ``r`` is one of ``kinds`` and counts in the view."""
    cond = [
        exp.EQ(this=exp.column("record", "ev"), expression=exp.column("id", "r")),
        exp.column("kind", "ev").isin(*(exp.Literal.string(k.value) for k in kinds)),
        exp.LTE(this=exp.column("effective", "ev"), expression=view.events_on),
    ]
    if view.cut is not None:
        cond.append(exp.LTE(this=exp.column("recorded_at", "ev"), expression=view.cut))
    return exp.and_(*cond)


def _from(view: View) -> exp.Select:
    q = exp.select().from_(exp.alias_(exp.to_table(KNOWN), "r", copy=False), copy=False)
    if view.points is not None:
        q = q.join(
            exp.to_table(view.points),
            on=exp.EQ(
                this=exp.column("subject", view.points), expression=exp.column("subject", "r")
            ),
            copy=False,
        )
    return q


def _keys(view: View, table: str | None = None) -> list[exp.Expr]:
    if view.points is None:
        return []
    return [exp.column(k, table or view.points) for k in view.keys]


def revoked_by(on: date) -> exp.Select:
    """The known records revoked by ``on`` (``record``): each never existed, on any day."""
    return exp.select("record").from_(KNOWN_EVENTS, copy=False).where(exp.and_(
        exp.EQ(this=exp.column("kind"), expression=exp.Literal.string(EventKind.REVOKED.value)),
        exp.LTE(this=exp.column("effective"), expression=day(on))), copy=False)


def _live(view: View, categories: Iterable[str]) -> exp.Expr:
    """Record ``r`` is in effect in the view, of ``categories``, recorded by its cut and
    not revoked by ``revoked_on``."""
    cats = sorted(set(categories))
    revoked = revoked_by(view.revoked_on)
    where: list[exp.Expr] = [
        exp.LTE(this=exp.column("effective", "r"), expression=view.on),
        exp.column("category", "r").isin(*(exp.Literal.string(c) for c in cats))
        if cats
        else exp.false(),
        exp.Not(this=exp.column("id", "r").isin(query=revoked)),
    ]
    if view.cut is not None:
        where.append(exp.LTE(this=exp.column("recorded_at", "r"), expression=view.cut))
    return exp.and_(*where)


def _same(view: View, a: str, b: str) -> exp.Expr:
    """Rows ``a`` and ``b`` are of the same view and record."""
    return exp.and_(
        exp.EQ(this=exp.column("id", a), expression=exp.column("record", b)),
        *(exp.EQ(this=exp.column(k, a), expression=exp.column(k, b)) for k in view.keys),
    )


def states(view: View, categories: Iterable[str], fields: Iterable[str]) -> exp.Select:
    """``engine.facts.RecordState`` rows of ``categories`` in the view: the view's keys,
    ``id``, ``subject``, ``category``, ``effective``, ``legal_basis``, ``rectified`` (first
    performance, or NULL) and one decimal column per amount field (:func:`amount_column`)
    after every correction in the view, in event order, the last correction of a field
    winning. Repairs are :func:`repairs`. Joins and windows only, no correlated subquery,
    so that Spark plans it as DuckDB does."""
    live = (
        _from(view)
        .select(
            *_keys(view),
            *(
                exp.column(c, "r")
                for c in ("id", "subject", "category", "effective", "legal_basis", "amounts")
            ),
            copy=False,
        )
        .where(_live(view, categories), copy=False)
    )
    q = exp.select(
        *(exp.column(k, "s") for k in view.keys),
        *(exp.column(c, "s") for c in ("id", "subject", "category", "effective", "legal_basis")),
        exp.alias_(exp.column("rectified", "rect"), "rectified", copy=False),
    ).from_(exp.alias_(exp.paren(live, copy=False), "s", copy=False), copy=False)
    rect = (
        _from(view)
        .select(
            *_keys(view),
            exp.alias_(exp.column("id", "r"), "record", copy=False),
            exp.alias_(exp.Min(this=exp.column("effective", "ev")), "rectified", copy=False),
            copy=False,
        )
        .join(
            exp.alias_(exp.to_table(KNOWN_EVENTS), "ev", copy=False),
            on=_event_in_view(view, (EventKind.RECTIFIED,)),
            copy=False,
        )
        .group_by(*_keys(view), exp.column("id", "r"), copy=False)
    )
    q = q.join(
        exp.alias_(exp.paren(rect, copy=False), "rect", copy=False),
        on=_same(view, "s", "rect"),
        join_type="LEFT",
        copy=False,
    )
    for n, f in enumerate(sorted(set(fields))):
        alias = f"c{n}"
        q = q.join(
            exp.alias_(exp.paren(_corrections(view, f), copy=False), alias, copy=False),
            on=_same(view, "s", alias),
            join_type="LEFT",
            copy=False,
        )
        q = q.select(
            exp.alias_(
                exp.Coalesce(
                    this=exp.column("v", alias),
                    expressions=[json_amount(exp.column("amounts", "s"), f)],
                ),
                amount_column(f),
                copy=False,
            ),
            copy=False,
        )
    return q


def _corrections(view: View, field: str) -> exp.Select:
    """Per view and record, the field's value in its last correction in (effective,
    recorded_at, id) order that carries it."""
    v = json_amount(exp.column("amounts", "ev"), field)
    last = exp.Window(
        this=exp.RowNumber(),
        partition_by=[*_keys(view), exp.column("id", "r")],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=exp.column(c, "ev"), desc=True)
                for c in ("effective", "recorded_at", "id")
            ]
        ),
    )
    ranked = (
        _from(view)
        .select(
            *_keys(view),
            exp.alias_(exp.column("id", "r"), "record", copy=False),
            exp.alias_(v, "v", copy=False),
            exp.alias_(last, "n", copy=False),
            copy=False,
        )
        .join(
            exp.alias_(exp.to_table(KNOWN_EVENTS), "ev", copy=False),
            on=exp.and_(
                _event_in_view(view, (EventKind.CORRECTED,)), exp.Not(this=v.is_(exp.null()))
            ),
            copy=False,
        )
    )
    return (
        exp.select(*view.keys, "record", "v")
        .from_(exp.alias_(exp.paren(ranked, copy=False), "w", copy=False), copy=False)
        .where(exp.EQ(this=exp.column("n"), expression=exp.Literal.number(1)), copy=False)
    )


def repairs(view: View, categories: Iterable[str]) -> exp.Select:
    """Every repair event in the view on a live record of ``categories``: the view's keys,
    ``record``, ``subject`` and ``repaired`` (its day). Each list rule judges them against
    its own minimum (``engine.facts.RecordState.repairs``)."""
    return (
        _from(view)
        .select(
            *_keys(view),
            exp.alias_(exp.column("id", "r"), "record", copy=False),
            exp.column("subject", "r"),
            exp.alias_(exp.column("effective", "ev"), "repaired", copy=False),
            copy=False,
        )
        .join(
            exp.alias_(exp.to_table(KNOWN_EVENTS), "ev", copy=False),
            on=_event_in_view(view, (EventKind.REPAIRED,)),
            copy=False,
        )
        .where(_live(view, categories), copy=False)
    )


def base(view: View) -> exp.Select:
    """The rows of the view: (keys, ``subject``) with the subject's row as ``s``."""
    if view.points is None:
        return exp.select(*[], exp.alias_(exp.column("id", "s"), "subject", copy=False)).from_(
            exp.alias_(exp.to_table("subjects"), "s", copy=False), copy=False
        )
    return (
        exp.select(*_keys(view, view.points), exp.column("subject", view.points))
        .from_(exp.to_table(view.points), copy=False)
        .join(
            exp.alias_(exp.to_table("subjects"), "s", copy=False),
            on=exp.EQ(this=exp.column("id", "s"), expression=exp.column("subject", view.points)),
            copy=False,
        )
    )
