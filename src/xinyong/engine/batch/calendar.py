"""Working days in the compiled plan (``WorkingCalendar.add_working_days``): a small table of
the policy's calendar, one row per day over a bounded range with the number of working days
up to it, so that "the n-th working day after d" is two equi-joins, never a loop.

Holidays and make-up working days come from the calendar as published; past its published
years the count is a plain weekday count, as in the per-subject engine."""

from __future__ import annotations

from datetime import date, timedelta

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.facts import KNOWN, KNOWN_EVENTS
from xinyong.engine.batch.plan import Table
from xinyong.engine.batch.sql import day
from xinyong.model import EventKind
from xinyong.periods import WorkingCalendar

FIRST = date(1950, 1, 1)
"""The first day the table covers: a performance dated earlier is refused by a check."""


def table_name(ident: str) -> str:
    return "calendar_" + "".join(c if c.isalnum() else "_" for c in ident)


def calendar_table(cal: WorkingCalendar, first: date, last: date) -> Table:
    """(day, number, working): ``number`` counts the working days in [first, day]."""
    rows: list[tuple[object, ...]] = []
    n = 0
    d = first
    while d <= last:
        working = cal.is_working_day(d)
        n += working
        rows.append((d, n, working))
        d += timedelta(days=1)
    return Table((("day", "DATE"), ("number", "BIGINT"), ("working", "BOOLEAN")), rows)


def register(b: Build, ident: str, n: int) -> str:
    """Register (once, wide enough for ``n`` working days after as-of) the table of calendar
    ``ident`` in ``b.tables`` and return its name."""
    name = table_name(ident)
    cal = b.policy.calendar(ident)
    last = cal.add_working_days(b.as_of, n) + timedelta(days=1)
    have = b.tables.get(name)
    if have is None or have.rows[-1][0] < last:  # type: ignore[operator]
        b.tables[name] = calendar_table(cal, FIRST, last)
    return name


def working_days_after(b: Build, ident: str, start: exp.Expr, n: int,
                       alias: str) -> tuple[exp.Expr, list[tuple[exp.Expr, exp.Expr]]]:
    """``cal.add_working_days(start, n)`` as an expression, and the LEFT JOINs (table, on)
    it needs (aliases ``{alias}_0`` and ``{alias}_n``). NULL where ``start`` is NULL."""
    if n == 0:
        return start, []
    name = register(b, ident, n)
    here, there = f"{alias}_0", f"{alias}_n"
    joins: list[tuple[exp.Expr, exp.Expr]] = [
        (exp.alias_(exp.to_table(name), here),
         exp.EQ(this=exp.column("day", here), expression=start)),
        (exp.alias_(exp.to_table(name), there), exp.and_(
            exp.column("working", there),
            exp.EQ(this=exp.column("number", there), expression=exp.Add(
                this=exp.column("number", here), expression=exp.Literal.number(n))))),
    ]
    return exp.column("day", there), joins


def too_early(categories: list[str]) -> exp.Select:
    """Check: performances (rectified events) on records of ``categories`` dated before the
    calendar table's first day, which the plan cannot count working days from."""
    cats = [exp.Literal.string(c) for c in categories]
    return exp.select("ev.id", "ev.record", "ev.effective").from_(
        exp.alias_(exp.to_table(KNOWN_EVENTS), "ev")).join(
        exp.alias_(exp.to_table(KNOWN), "r"), on=exp.EQ(
            this=exp.column("id", "r"), expression=exp.column("record", "ev"))).where(exp.and_(
                exp.EQ(this=exp.column("kind", "ev"),
                       expression=exp.Literal.string(EventKind.RECTIFIED.value)),
                exp.LT(this=exp.column("effective", "ev"), expression=day(FIRST)),
                exp.column("category", "r").isin(*cats) if cats else exp.false(),
            )).order_by("ev.id").limit(1)
