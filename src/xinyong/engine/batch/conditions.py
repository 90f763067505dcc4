"""Overrides' and conditionals' conditions (``engine.rating.holds``) as columns: record
parts are aggregates in the rating's one GROUP BY over states; grade tests join the other
scheme's own rating in the same view (links not followed); linked parts rate the subjects
one hop away in a derived view (the linker's day and cut), on their own records. Pure.
"""

from __future__ import annotations

from datetime import date

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.facts import View, base
from xinyong.engine.batch.repairs import name_of
from xinyong.engine.batch.sql import (
    Unsupported,
    amounts_pass,
    empty_list,
    first_each,
    lit,
    not_compiled,
    ordered_ids,
    struct,
    within,
)
from xinyong.policy.schema import Condition, Scheme


def _retarget(e: exp.Expr, old: str, new: str) -> exp.Expr:
    def fix(n: exp.Expr) -> exp.Expr:
        if isinstance(n, exp.Column) and n.table == old:
            return exp.column(n.name, new)
        return n

    return e.copy().transform(fix)


def restrict(b: Build, view: View, start: date | None, end: date | None) -> View:
    """The view's points whose day is in [start, end) (a scheme version's days)."""
    if view.points is None:
        raise Unsupported("a view of one literal day needs View.fixed")
    where: list[exp.Expr] = []
    from xinyong.engine.batch.sql import day

    if start is not None:
        where.append(exp.GTE(this=view.on, expression=day(start)))
    if end is not None:
        where.append(exp.LT(this=view.on, expression=day(end)))
    q = exp.select("*").from_(exp.to_table(view.points), copy=False)
    if where:
        q = q.where(exp.and_(*where, copy=False), copy=False)
    name = b.cte(name_of("pts", q), q)
    return View(
        _retarget(view.on, view.points, name),
        _retarget(view.events_on, view.points, name),
        None if view.cut is None else _retarget(view.cut, view.points, name),
        view.revoked_on,
        name,
        view.keys,
        view.fixed,
        view.year,
        (
            max(start, view.span[0]) if start and view.span[0] else start or view.span[0],
            min(end, view.span[1]) if end and view.span[1] else end or view.span[1],
        ),
    )


_STEP_ROLE = "role"


def pairs(b: Build, view: View, path: str) -> View:
    """The derived view of the subjects reachable along ``path`` from each point's subject
    on its day (``engine.facts.reachable``): keys + ``linker``, ``subject`` the other one."""
    q = base(view)
    cur = exp.column("subject", view.points) if view.points else exp.column("id", "s")
    for n, step in enumerate(path.split("/")):
        t = f"l{n}"
        role, up = (step[:-3], True) if step.endswith("_of") else (step, False)
        start, nxt = ("party", "organisation") if up else ("organisation", "party")
        held = exp.and_(
            exp.EQ(this=exp.column(start, t), expression=cur),
            exp.EQ(this=exp.column("role", t), expression=exp.Literal.string(role)),
            exp.LTE(this=exp.column("start", t), expression=view.on),
            exp.or_(
                exp.column("end", t).is_(exp.null()),
                exp.GT(this=exp.column("end", t), expression=view.on),
                copy=False,
            ),
            copy=False,
        )
        q = q.join(exp.alias_(exp.to_table("links"), t, copy=False), on=held, copy=False)
        cur = exp.column(nxt, t)
    start_subject = exp.column("subject", view.points) if view.points else exp.column("id", "s")
    cols = [*(exp.column(k, view.points) for k in view.keys)] if view.points else []
    out = (
        exp.select(
            *cols,
            exp.alias_(start_subject.copy(), "linker", copy=False),
            exp.alias_(cur, "subject", copy=False),
            exp.alias_(view.on, "v_on", copy=False),
            exp.alias_(view.events_on, "v_events_on", copy=False),
            *([exp.alias_(view.cut, "v_cut", copy=False)] if view.cut is not None else []),
        )
        .distinct(copy=False)
        .from_(q.args["from_"] if "from_" in q.args else q.args["from"], copy=False)
    )
    for j in q.args.get("joins") or []:
        out = out.join(j, copy=False)
    out = out.where(exp.NEQ(this=cur.copy(), expression=start_subject.copy()), copy=False)
    name = b.cte(name_of("lnk", out), out)
    return View(
        exp.column("v_on", name),
        exp.column("v_events_on", name),
        exp.column("v_cut", name) if view.cut is not None else None,
        view.revoked_on,
        name,
        (*view.keys, "linker"),
        view.fixed,
        view.year,
        view.span,
    )


class Leaves:
    """The parts of a scheme's conditions that read more than the rated row: record parts
    (aggregates), registered_within (a column), grade tests and linked parts (joins)."""

    def __init__(
        self, b: Build, view: View, scheme: Scheme, follow_links: bool, only: frozenset[str] | None
    ) -> None:
        self.b, self.view, self.scheme = b, view, scheme
        self.follow_links, self.only = follow_links, only
        self.ids: dict[int, str] = {}
        self.records: list[tuple[str, Condition]] = []
        self.joins: list[tuple[str, exp.Expr, list[exp.Expr]]] = []
        self.columns: list[exp.Expr] = []
        self.categories: set[str] = set()
        self.fields: set[str] = set()

    def add(self, c: Condition) -> None:
        n = f"{len(self.ids)}"
        self.ids[id(c)] = n
        if c.categories:
            self.records.append((n, c))
            self.categories.update(c.categories)
            self.fields.update(f for t in c.amounts for f in (t.field, t.of) if f)
            self.columns += [
                exp.alias_(
                    exp.Coalesce(this=exp.column(f"h{n}", "a"), expressions=[exp.false()]),
                    f"h{n}",
                    copy=False,
                ),
                exp.alias_(
                    exp.Coalesce(this=exp.column(f"hr{n}", "a"), expressions=[empty_list()]),
                    f"hr{n}",
                    copy=False,
                ),
            ]
        if c.registered_within is not None:
            reg = exp.column("registered", "s")
            self.columns.append(
                exp.alias_(
                    exp.Coalesce(
                        this=exp.and_(
                            exp.Not(this=reg.is_(exp.null())),
                            within(reg, c.registered_within, self.view.on),
                            copy=False,
                        ),
                        expressions=[exp.false()],
                    ),
                    f"rw{n}",
                    copy=False,
                )
            )
        if c.grade is not None:
            published = any(
                v.publication is not None
                for v in self.b.policy.versions["scheme"].get(c.grade.scheme, ())
            )
            own_day = self.view.points is None and self.view.fixed == self.b.as_of
            if published and not self.view.year and not own_day:
                raise Unsupported(
                    not_compiled(
                        self.b.policy,
                        self.scheme,
                        f"grade test on the published scheme {c.grade.scheme!r} in a view "
                        "other than as-of",
                    )
                )
            joined = True
            if published and not self.view.year:
                # in the as-of view, the other scheme's rating is the one published
                self._join(f"gt{n}", self.b.graded().published_own(self.b, c.grade.scheme), ())
            elif self.view.fixed is not None and (
                self.b.policy.at(self.view.fixed).schemes.get(c.grade.scheme) is None
            ):
                self.columns += [
                    exp.alias_(exp.false(), f"gl{n}", copy=False),
                    exp.alias_(empty_list(), f"glr{n}", copy=False),
                ]
                joined = False
            else:
                sub = self.b.graded().rated_at(
                    self.b, c.grade.scheme, self.view, follow_links=False, only=self.only
                )
                self._join(f"gt{n}", sub, self.view.keys)
            if joined:
                t = f"gt{n}"
                hit = exp.column("grade", t).isin(
                    *(exp.Literal.string(g) for g in c.grade.grades), copy=False
                )
                self.columns += [
                    exp.alias_(
                        exp.Coalesce(this=hit, expressions=[exp.false()]), f"gl{n}", copy=False
                    ),
                    exp.alias_(
                        exp.Case()
                        .when(hit.copy(), exp.column("records", t), copy=False)
                        .else_(empty_list(), copy=False),
                        f"glr{n}",
                        copy=False,
                    ),
                ]
        if c.linked is not None:
            if not self.follow_links:
                self.columns += [
                    exp.alias_(exp.false(), f"ll{n}", copy=False),
                    exp.alias_(empty_list(), f"llr{n}", copy=False),
                ]
            else:
                self._linked(n, c)
        for part in (*c.all, *c.any):
            self.add(part)

    def _join(self, t: str, sub: exp.Expr, keys: tuple[str, ...]) -> None:
        rows = (
            exp.column("subject", self.view.points) if self.view.points else exp.column("id", "s")
        )
        on: list[exp.Expr] = [exp.EQ(this=exp.column("subject", t), expression=rows)]
        on += [
            exp.EQ(this=exp.column(k, t), expression=exp.column(k, self.view.points or "s"))
            for k in keys
        ]
        self.joins.append((t, sub, on))

    def _linked(self, n: str, c: Condition) -> None:
        assert c.linked is not None
        derived = pairs(self.b, self.view, c.linked.path)
        inner = Leaves(self.b, derived, self.scheme, False, self.only)
        inner.add(c.linked.when)
        q = inner.attach(inner.with_aggregates(base(derived)))
        h, recs = inner.holds(c.linked.when, "o", score=False)
        judged = exp.select(
            *(exp.column(k, "o") for k in derived.keys),
            exp.column("subject", "o"),
            exp.alias_(h, "h", copy=False),
            exp.alias_(recs, "recs", copy=False),
        ).from_(exp.alias_(exp.paren(q, copy=False), "o", copy=False), copy=False)
        keys = self.view.keys
        agg = (
            exp.select(
                *(exp.column(k, "j") for k in keys),
                exp.alias_(exp.column("linker", "j"), "subject", copy=False),
                exp.alias_(exp.func("BOOL_OR", exp.column("h", "j")), "h", copy=False),
                exp.alias_(
                    exp.Flatten(
                        this=ordered_ids(
                            exp.Case().when(
                                exp.column("h", "j"),
                                struct(o=exp.column("subject", "j"), r=exp.column("recs", "j")),
                                copy=False,
                            ),
                            (),
                            "r",
                        )
                    ),
                    "recs",
                    copy=False,
                ),
            )
            .from_(exp.alias_(exp.paren(judged, copy=False), "j", copy=False), copy=False)
            .group_by(*(exp.column(k, "j") for k in keys), exp.column("linker", "j"), copy=False)
        )
        t = f"lk{n}"
        self._join(t, agg, keys)
        self.columns += [
            exp.alias_(
                exp.Coalesce(this=exp.column("h", t), expressions=[exp.false()]),
                f"ll{n}",
                copy=False,
            ),
            exp.alias_(
                exp.Coalesce(this=exp.column("recs", t), expressions=[empty_list()]),
                f"llr{n}",
                copy=False,
            ),
        ]

    def with_aggregates(self, q: exp.Select) -> exp.Select:
        """``q`` (a view's base) joined with the record parts' aggregates as ``a``."""
        from xinyong.engine.batch.repairs import subject_states

        if not self.records:
            return q
        st = subject_states(
            self.b, self.view, sorted(self.categories), sorted(self.fields), (), self.only
        )
        keys = self.view.keys
        per = (
            exp.select(
                *(exp.column(k, "r") for k in keys),
                exp.column("subject", "r"),
                *self.aggregates("r"),
            )
            .from_(exp.alias_(exp.to_table(st), "r", copy=False), copy=False)
            .group_by(*(exp.column(k, "r") for k in keys), exp.column("subject", "r"), copy=False)
        )
        rows = self.view.points or "s"
        on = [
            exp.EQ(
                this=exp.column("subject", "a"),
                expression=exp.column("subject" if self.view.points else "id", rows),
            )
        ]
        on += [exp.EQ(this=exp.column(k, "a"), expression=exp.column(k, rows)) for k in keys]
        return q.join(
            exp.alias_(exp.paren(per, copy=False), "a", copy=False),
            on=exp.and_(*on, copy=False),
            join_type="LEFT",
            copy=False,
        )

    def _match(self, c: Condition, r: str) -> exp.Expr:
        parts: list[exp.Expr] = [
            exp.column("category", r).isin(
                *(exp.Literal.string(x) for x in c.categories), copy=False
            ),
            exp.column("repaired", r).is_(exp.null()),
        ]
        if c.window is not None:
            parts.append(within(exp.column("effective", r), c.window, self.view.on))
        if c.amounts:
            parts.append(amounts_pass(c.amounts, r))
        return exp.and_(*parts, copy=False)

    def aggregates(self, r: str) -> list[exp.Expr]:
        out: list[exp.Expr] = []
        for n, c in self.records:
            m = self._match(c, r)
            out.append(exp.alias_(exp.func("BOOL_OR", m), f"h{n}", copy=False))
            out.append(
                exp.alias_(
                    ordered_ids(
                        exp.Case().when(
                            m.copy(),
                            struct(e=exp.column("effective", r), id=exp.column("id", r)),
                            copy=False,
                        ),
                        (),
                        "id",
                    ),
                    f"hr{n}",
                    copy=False,
                )
            )
        return out

    def attach(self, q: exp.Select) -> exp.Select:
        for t, sub, on in self.joins:
            q = q.join(
                exp.alias_(exp.paren(sub, copy=False), t, copy=False),
                on=exp.and_(*on, copy=False),
                join_type="LEFT",
                copy=False,
            )
        return q.select(*self.columns, copy=False)

    def holds(self, c: Condition, t: str, score: bool = True) -> tuple[exp.Expr, exp.Expr]:
        """(holds, records) of ``c`` over the columns of row ``t``."""
        n = self.ids[id(c)]
        conds: list[exp.Expr] = []
        recs: list[exp.Expr] = []
        if c.categories:
            conds.append(exp.column(f"h{n}", t))
            recs.append(exp.column(f"hr{n}", t))
        if c.registered_within is not None:
            conds.append(exp.column(f"rw{n}", t))
        if c.grade is not None:
            conds.append(exp.column(f"gl{n}", t))
            recs.append(exp.column(f"glr{n}", t))
        for bound, op in ((c.score_min, exp.GTE), (c.score_max, exp.LTE)):
            if bound is not None:
                conds.append(
                    op(this=exp.column("score", t), expression=lit(bound)) if score else exp.false()
                )
        if c.linked is not None:
            conds.append(exp.column(f"ll{n}", t))
            recs.append(exp.column(f"llr{n}", t))
        for sub in c.all:
            h, r = self.holds(sub, t, score)
            conds.append(h)
            recs.append(r)
        if c.any:
            subs = [self.holds(sub, t, score) for sub in c.any]
            conds.append(exp.or_(*(h for h, _ in subs), copy=False))
            recs += [
                exp.Case().when(h, r, copy=False).else_(empty_list(), copy=False) for h, r in subs
            ]
        held = exp.paren(exp.and_(*conds, copy=False), copy=False) if conds else exp.true()
        # each part's list is free of repeats, and so the whole: Rating.records keeps each once
        return held, first_each(recs)
