"""The pieces every compiled query shares: typed literals, calendar arithmetic on date
expressions (``Period.after``), amounts read from a record's JSON and amount tests. Pure:
SQLGlot expressions only, emitted later for DuckDB or Spark."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import sqlglot.expressions as exp

from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.policy.schema import AmountTest, Scheme

NUM = "DECIMAL(38, 6)"
"""Every score, amount and point: exact, as the per-subject engine's ``Decimal``."""


class Unsupported(ValueError):
    """A policy construct the batch compiler cannot express (yet): named with file and key."""


def lit(value: Decimal | int | str) -> exp.Expr:
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.cast(exp.Literal.number(str(value)), NUM)


def day(d: date) -> exp.Expr:
    return exp.cast(exp.Literal.string(d.isoformat()), "DATE")


def instant(t: datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(t.isoformat(sep=" ")), "TIMESTAMP")


def after(start: exp.Expr, period: Period) -> exp.Expr:
    """``period.after(start)``: months first (clamped to the month's end), then days."""
    end: exp.Expr = start
    months = 12 * period.years + period.months
    if months:
        end = exp.DateAdd(this=end, expression=exp.Literal.number(months), unit=exp.var("MONTH"))
    if period.days:
        end = exp.DateAdd(this=end, expression=exp.Literal.number(period.days),
                          unit=exp.var("DAY"))
    return exp.cast(end, "DATE")


def within(effective: exp.Expr, window: Period | None, on: exp.Expr) -> exp.Expr:
    """``engine.facts.within``: ``on`` is before effective + window (always, without one)."""
    if window is None:
        return exp.true()
    return exp.GT(this=after(effective, window), expression=on)


def amount_column(field: str) -> str:
    """The column of ``states`` holding one amount field (after corrections)."""
    return "a_" + "".join(c if c.isalnum() else "_" for c in field) + f"_{_tag(field)}"


def _tag(field: str) -> str:
    # distinct fields never share a column, whatever their punctuation
    return format(sum(ord(c) * 31 ** n for n, c in enumerate(field)) % 65521, "x")


def json_amount(json_col: exp.Expr, field: str) -> exp.Expr:
    """One field of a JSON amounts object as a decimal, NULL where it is absent."""
    path = exp.Literal.string("$." + field)
    return exp.cast(exp.JSONExtractScalar(this=json_col, expression=path), NUM)


def amounts_pass(tests: Iterable[AmountTest], table: str) -> exp.Expr:
    """``engine.facts.amounts_pass`` over the amount columns of ``table`` (a ``states`` row):
    a missing amount fails; a ratio needs a positive divisor and is compared exactly,
    v against bound × d."""
    out: list[exp.Expr] = []
    for t in tests:
        v = exp.column(amount_column(t.field), table)
        conds: list[exp.Expr] = [exp.Not(this=v.is_(exp.null()))]
        d: exp.Expr | None = None
        if t.of is not None:
            d = exp.column(amount_column(t.of), table)
            conds.append(exp.GT(this=d, expression=lit(0)))
        for op, bound in ((exp.GTE, t.ge), (exp.GT, t.gt), (exp.LTE, t.le), (exp.LT, t.lt)):
            if bound is not None:
                rhs = lit(bound) if d is None else exp.Mul(this=lit(bound), expression=d)
                conds.append(op(this=v, expression=rhs))
        out.append(exp.Coalesce(this=exp.paren(exp.and_(*conds)), expressions=[exp.false()]))
    return exp.and_(*out) if out else exp.true()


def lam(body: exp.Expr, var: str = "x") -> exp.Lambda:
    """``var -> body`` for the array functions below."""
    return exp.Lambda(this=body, expressions=[exp.to_identifier(var)])


def ordered_ids(items: exp.Expr, order: Iterable[str], value: str) -> exp.Expr:
    """The ``value`` field of an aggregate of structs, sorted by their fields ``order``
    (``ARRAY_AGG(x ORDER BY y)`` loses its order on Spark; sorting structs does not). NULL
    items (rows the aggregate skips) are dropped."""
    del order  # structs sort field by field, in the order they were built
    agg = exp.ArrayFilter(this=exp.ArrayAgg(this=items), expression=lam(
        exp.Not(this=exp.Is(this=exp.to_identifier("x"), expression=exp.Null()))))
    return exp.Transform(this=exp.ArraySort(this=agg), expression=lam(
        exp.Dot(this=exp.to_identifier("x"), expression=exp.to_identifier(value))))


def struct(**fields: exp.Expr) -> exp.Expr:
    return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(k), expression=v)
                                   for k, v in fields.items()])


def empty_list() -> exp.Expr:
    return exp.cast(exp.Array(), "VARCHAR[]")


def size(arr: exp.Expr) -> exp.Expr:
    return exp.ArraySize(this=arr)


def first_each(parts: list[exp.Expr]) -> exp.Expr:
    """The lists concatenated, each id once where it first appears (each list is free of
    repeats), without relying on an order-keeping ``array_distinct``."""
    out: exp.Expr | None = None
    x = exp.to_identifier("x")
    for p in parts:
        if out is None:
            out = p
            continue
        fresh = exp.ArrayFilter(
            this=p,
            expression=lam(exp.Not(this=exp.ArrayContains(this=out.copy(), expression=x.copy()))),
        )
        out = exp.ArrayConcat(this=out, expressions=[fresh])
    return out if out is not None else empty_list()


def not_compiled(policy: Policy, scheme: Scheme, key: str) -> str:
    """The refusal of ``key`` in ``scheme``, with the file and line it was read from."""
    o = policy.origin("scheme", scheme)
    place = f"{o.file}:{o.line}" if o and o.line else (o.file if o else "<policy>")
    return (
        f"{place}: scheme {scheme.id!r} (from {scheme.effective_from}): {key!r} is not "
        "compiled by the batch evaluator yet; rate this scheme with the per-subject engine "
        "or leave it out of the batch run"
    )
