"""What the compiler hands the runner: named queries, each one output table, and checks
that must find nothing before they run. Pure data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlglot.expressions as exp

OUTPUTS = ("ratings", "entries", "measures")
"""The output tables, in the order they are written (see ``docs/batch.md``)."""


@dataclass(frozen=True, slots=True)
class Table:
    """A small table of the plan's own: column names with SQL types, and its rows."""

    columns: tuple[tuple[str, str], ...]
    """(name, SQL type as SQLGlot parses it, e.g. ``DATE``, ``VARCHAR``, ``BIGINT``)."""
    rows: Sequence[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class Plan:
    """The compiled policy for one as-of and known-at."""

    outputs: Mapping[str, exp.Expr]
    """Output name (one of :data:`OUTPUTS`) -> the query producing its rows."""
    checks: Mapping[str, exp.Expr]
    """Name -> a query returning the input rows the plan cannot rate (must return none)."""
    schemes: tuple[str, ...]
    lists: tuple[str, ...]
    as_of: date
    known_at: datetime
    policy_digest: str
    tables: Mapping[str, Table] = field(default_factory=dict)
    """Small tables the plan derives from the policy (a working-day calendar, bindings),
    which the runner registers beside the inputs before it runs the queries."""

    def sql(self, output: str = "ratings", dialect: str = "duckdb") -> str:
        return self.outputs[output].sql(dialect=dialect)
