"""The compiler's entry point: a policy, an as-of and a known-at in, a :class:`Plan` out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import sqlglot.expressions as exp

from xinyong.engine.batch import entries, measures, ratings
from xinyong.engine.batch.build import Build
from xinyong.engine.batch.plan import OUTPUTS, Plan
from xinyong.policy.model import Policy


def compile_plan(policy: Policy, as_of: date, *, known_at: datetime | None = None,
                 schemes: Iterable[str] | None = None, lists: Iterable[str] | None = None,
                 outputs: Iterable[str] = OUTPUTS) -> Plan:
    """The plan rating every subject on ``as_of`` on what was recorded by ``known_at``
    (default: the end of as-of): the ``outputs`` asked for, under every scheme and list rule
    in force (or those named). Raises :class:`~xinyong.engine.batch.sql.Unsupported`, with
    file and key, for a construct it cannot express."""
    wanted = tuple(outputs)
    unknown = [o for o in wanted if o not in OUTPUTS]
    if unknown:
        raise ValueError(f"unknown output {unknown[0]!r}; choose from {', '.join(OUTPUTS)}")
    b = Build(policy, as_of, known_at or datetime.combine(as_of, time.max))
    queries: dict[str, exp.Expr] = {}
    checks: dict[str, exp.Expr] = {}
    rated: tuple[str, ...] = ()
    if "ratings" in wanted:
        queries["ratings"], rated = ratings.compile_ratings(b, schemes, checks)
    listed: tuple[str, ...] = ()
    if "entries" in wanted or "measures" in wanted:
        name = entries.compile_entries(b, lists)
        listed = tuple(sorted({r.list_id for r in b.view.list_rules.values()}))
        if "entries" in wanted:
            queries["entries"] = b.with_ctes(entries.entries_output(b, name))
        if "measures" in wanted:
            queries["measures"] = b.with_ctes(measures.compile_measures(b, name))
    return Plan(queries, checks, rated, listed, as_of, b.known_at, policy.digest, b.tables)
