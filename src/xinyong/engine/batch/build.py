"""The state one compilation shares between its parts (ratings, grade runs, entries,
measures): the policy, the as-of and known-at, and the named subqueries (CTEs) built so far,
so that a part another part needs is built once and referred to by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlglot.expressions as exp

from xinyong.engine.batch.facts import known_ctes
from xinyong.engine.batch.plan import Table
from xinyong.policy.model import Policy, PolicyView


@dataclass(frozen=True)
class Grades:
    """Another scheme's ratings, for a grade test inside a condition (``grade = {scheme,
    in}``): rated in the test's view, or as published on as-of. Ratings compile conditions,
    so conditions receive the two here rather than import them (``compile.new_build``)."""

    rated_at: Callable[..., exp.Select]
    """``ratings.rated_at(b, scheme, view, follow_links=, only=)``."""
    published_own: Callable[[Build, str], exp.Select]
    """``publication.published_own(b, scheme)``."""


@dataclass
class Build:
    policy: Policy
    as_of: date
    known_at: datetime
    ctes: dict[str, exp.Expr] = field(default_factory=dict)
    """Name -> query, in dependency order (a CTE reads only those before it)."""
    tables: dict[str, Table] = field(default_factory=dict)
    """The plan's own small tables (:attr:`Plan.tables`)."""
    grades: Grades | None = None
    """How a grade test reads another scheme (None: a plan without grade tests)."""

    def __post_init__(self) -> None:
        for name, q in known_ctes(self.known_at):
            self.ctes[name] = q

    def graded(self) -> Grades:
        if self.grades is None:
            raise ValueError("this Build has no Grades; make it with compile.new_build")
        return self.grades

    @property
    def view(self) -> PolicyView:
        return self.policy.at(self.as_of)

    def cte(self, name: str, query: exp.Expr) -> str:
        """Register ``query`` as ``name`` (once: a second registration must be equal)."""
        have = self.ctes.get(name)
        if have is not None and have != query:
            raise ValueError(f"two different queries named {name!r} in one plan")
        self.ctes[name] = query
        return name

    def with_ctes(self, query: exp.Select) -> exp.Select:
        """``query`` with the CTEs it reads, transitively, in dependency order, attached once
        (attaching each by ``Select.with_`` copies the whole query per CTE: quadratic in a
        plan of a hundred CTEs)."""
        needed: set[str] = set()
        todo: list[exp.Expr] = [query]
        while todo:
            for t in todo.pop().find_all(exp.Table):
                if t.name in self.ctes and not t.args.get("db") and t.name not in needed:
                    needed.add(t.name)
                    todo.append(self.ctes[t.name])
        ctes = [exp.CTE(this=q.copy(), alias=exp.TableAlias(this=exp.to_identifier(name)))
                for name, q in self.ctes.items() if name in needed]
        out = query.copy()
        if ctes:
            out.set("with_", exp.With(expressions=ctes))
        return out
