"""The output contract (``docs/batch.md``): each output's columns with their SQL types and
order, the query a plan's output is written through (cast to those types, in key order, the
same on every engine), the manifest, and the summary printed at the end of a run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlglot.expressions as exp

CONTRACT: dict[str, tuple[tuple[str, str], ...]] = {
    "ratings": (("subject", "VARCHAR"), ("scheme", "VARCHAR"), ("score", "DECIMAL(38, 6)"),
                ("band_grade", "VARCHAR"), ("grade", "VARCHAR"), ("reasons", "ARRAY<VARCHAR>")),
    "entries": (("key", "VARCHAR"), ("list", "VARCHAR"), ("rule", "VARCHAR"),
                ("subject", "VARCHAR"), ("listed_on", "DATE"), ("start", "DATE"),
                ("planned_end", "DATE"), ("end", "DATE"), ("status", "VARCHAR"),
                ("records", "ARRAY<VARCHAR>")),
    "measures": (("subject", "VARCHAR"), ("measure", "VARCHAR"), ("kind", "VARCHAR"),
                 ("effect", "VARCHAR"), ("clause", "VARCHAR"), ("memorandum", "VARCHAR"),
                 ("via", "VARCHAR"), ("listed_subject", "VARCHAR"), ("list", "VARCHAR"),
                 ("entry", "VARCHAR"), ("pending_review", "BOOLEAN")),
}
ORDER: dict[str, tuple[str, ...]] = {
    "ratings": ("scheme", "subject"),
    "entries": ("list", "subject", "key"),
    "measures": ("subject", "measure", "entry", "via"),
}
"""Rows are written in this order, so two engines' files compare row for row."""


def columns_of(query: exp.Expr) -> list[str]:
    """The output column names of a plan query (its outermost SELECT)."""
    names: list[str] = list(getattr(query, "named_selects", []))
    if not names or "*" in names:
        raise ValueError("a plan output must name its columns (no SELECT *)")
    return names


def shaped(name: str, query: exp.Expr) -> exp.Select:
    """``query`` as written: the contract's columns cast to their types (first, in contract
    order), any further column after them, ordered by the output's key."""
    have = columns_of(query)
    types = dict(CONTRACT.get(name, ()))
    first = [c for c, _ in CONTRACT.get(name, ()) if c in have]
    rest = [c for c in have if c not in types]
    inner = query.copy()
    order = inner.args.get("order")
    if order is not None:  # re-ordered outside: an inner ORDER BY would be work for nothing
        inner.set("order", None)
    cols: list[exp.Expr] = []
    for c in first:
        col = exp.column(c, "o", quoted=True)
        cols.append(exp.alias_(exp.cast(col, types[c], dialect="spark"), c, quoted=True))
    cols += [exp.column(c, "o", quoted=True) for c in rest]
    keys = [k for k in ORDER.get(name, ()) if k in have] or have[:1]
    return exp.select(*cols).from_(exp.alias_(exp.paren(inner), "o")).order_by(
        *(exp.Ordered(this=exp.column(k, "o", quoted=True), nulls_first=True) for k in keys))


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                    encoding="utf-8")


SUMMARY: dict[str, tuple[str, ...]] = {
    "ratings": ("scheme", "grade"),
    "entries": ("list", "status"),
    "measures": ("kind",),
}
"""The columns an output's summary counts rows by: subjects per grade per scheme, list
sizes by status, measures in force by kind."""


def summary_query(name: str, columns: list[str]) -> exp.Select | None:
    keys = [k for k in SUMMARY.get(name, ()) if k in columns]
    if not keys:
        return None
    cols = [exp.column(k, quoted=True) for k in keys]
    return exp.select(*cols, exp.alias_(exp.Count(this=exp.Star()), "n")).from_(
        exp.to_table("output")).group_by(*cols).order_by(*cols)
