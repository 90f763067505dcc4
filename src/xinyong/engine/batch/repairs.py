"""Record states a rating reads, with the subject's attributes, relief cover and the valid
repair (``engine.facts._valid_repair``), as one registered CTE per view and set of
categories. Pure: SQLGlot expressions.

The valid repair of a record is its first repair on or after its earliest repair day: the
latest of its category's minimum display period and every triggered list rule's
``application_after`` (after the rule's grace, which ``grace_for`` gives only to a covered
subject), all under the policy in force on the record's effective day; a record triggering a
rule with no repair path cannot be repaired.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.facts import View, repairs, states
from xinyong.engine.batch.sql import after, amounts_pass, day, within
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.policy.schema import ListRule, Relief

STATE_COLS = ("id", "subject", "category", "effective", "legal_basis", "rectified")


def name_of(prefix: str, query: exp.Expr) -> str:
    """A CTE name that is the same for the same query (so a part built twice is one CTE)."""
    return f"{prefix}_{hashlib.sha1(query.sql().encode()).hexdigest()[:12]}"


def _segments(
    policy: Policy, category: str
) -> list[tuple[date | None, date | None, Period | None, tuple[ListRule, ...]]]:
    """(start, end exclusive, the category's minimum display, its list rules) over the
    policy's intervals, consecutive equal ones merged; None for an open end."""
    starts: list[date | None] = [None, *policy.breaks]
    out: list[tuple[date | None, date | None, Period | None, tuple[ListRule, ...]]] = []
    for n, start in enumerate(starts):
        view = policy.at(start or date.min)
        cat = view.categories.get(category)
        minimum = cat.publicity.min if cat is not None else None
        rules = view.rules_by_category.get(category, ())
        end = starts[n + 1] if n + 1 < len(starts) else None
        if out and out[-1][2:] == (minimum, rules):
            out[-1] = (out[-1][0], end, minimum, rules)
        else:
            out.append((start, end, minimum, rules))
    return out


def trigger_fields(policy: Policy, categories: Iterable[str]) -> set[str]:
    cats = set(categories)
    return {
        f
        for r in policy.all("list_rule")
        if set(r.trigger.categories) & cats
        for t in r.trigger.amounts
        for f in (t.field, t.of)
        if f
    }


def grace_reliefs(policy: Policy, categories: Iterable[str]) -> list[Relief]:
    cats = set(categories)
    return sorted(
        {
            r.grace_for
            for r in policy.all("list_rule")
            if r.grace_for is not None and set(r.trigger.categories) & cats
        },
        key=repr,
    )


def _applies(rule: ListRule, t: str) -> exp.Expr:
    cond: list[exp.Expr] = [
        exp.column("s_kind", t).isin(
            *(exp.Literal.string(k.value) for k in rule.subject_kinds), copy=False
        )
    ]
    if rule.regions:
        cond.append(
            exp.or_(
                *(
                    exp.StartsWith(this=exp.column("s_region", t), expression=exp.Literal.string(p))
                    for p in rule.regions
                ),
                copy=False,
            )
        )
    if rule.trigger.amounts:
        cond.append(amounts_pass(rule.trigger.amounts, t))
    return exp.and_(*cond, copy=False)


def _earliest(policy: Policy, category: str, t: str, cover: dict[Relief, str]) -> exp.Expr:
    """The record's earliest repair day, NULL when it cannot be repaired."""
    eff = exp.column("effective", t)
    case = exp.Case()
    for start, end, minimum, rules in _segments(policy, category):
        earliest: exp.Expr = eff if minimum is None else after(eff, minimum)
        blocked: list[exp.Expr] = []
        for rule in rules:
            hit = _applies(rule, t)
            if rule.removal.application_after is None:
                blocked.append(hit)
                continue
            begin: exp.Expr = eff
            if rule.grace is not None:
                graced = after(eff, rule.grace)
                begin = (
                    graced
                    if rule.grace_for is None
                    else exp.Case()
                    .when(exp.column(cover[rule.grace_for], t), graced, copy=False)
                    .else_(eff, copy=False)
                )
            cand = (
                exp.Case()
                .when(hit, after(begin, rule.removal.application_after), copy=False)
                .else_(eff, copy=False)
            )
            earliest = exp.Greatest(this=earliest, expressions=[cand])
        value: exp.Expr = (
            earliest
            if not blocked
            else exp.Case()
            .when(exp.or_(*blocked, copy=False), exp.null(), copy=False)
            .else_(earliest, copy=False)
        )
        where: list[exp.Expr] = []
        if start is not None:
            where.append(exp.GTE(this=eff, expression=day(start)))
        if end is not None:
            where.append(exp.LT(this=eff, expression=day(end)))
        case = case.when(exp.and_(*where, copy=False) if where else exp.true(), value, copy=False)
    return case


def covered_flag(relief: Relief, t: str, d: str) -> exp.Expr:
    """``engine.facts.covered``: declaration ``d`` covers record ``t``'s subject on its day."""
    return exp.and_(
        exp.column("category", d).isin(
            *(exp.Literal.string(c) for c in relief.categories), copy=False
        ),
        exp.LTE(this=exp.column("effective", d), expression=exp.column("effective", t)),
        within(exp.column("effective", d), relief.within, exp.column("effective", t)),
        copy=False,
    )


def subject_states(
    b: Build,
    view: View,
    categories: Iterable[str],
    fields: Iterable[str],
    reliefs: Iterable[Relief] = (),
    only: frozenset[str] | None = None,
) -> str:
    """The CTE of the view's states of ``categories`` with the subject's ``s_kind``,
    ``s_region``, ``s_registered``, ``s_opt_ins``, one ``cov<n>`` flag per relief (in
    :func:`relief_columns` order) and ``repaired`` (the valid repair, or NULL)."""
    cats, cover = _reach(b.policy, categories, reliefs, only)
    all_reliefs = list(cover)
    flds = sorted(set(fields) | trigger_fields(b.policy, cats))
    keys = list(view.keys)
    base = states(view, sorted(cats), flds)
    base_name = b.cte(name_of("st", base), base)
    # relief cover: one pass joining each record with its subject's declarations
    q = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("s"))).from_(
        exp.alias_(exp.to_table(base_name), "s", copy=False), copy=False
    )
    if all_reliefs:
        decl = sorted({c for r in all_reliefs for c in r.categories if only is None or c in only})
        flags = (
            exp.select(
                *(exp.column(k, "t") for k in keys),
                exp.column("id", "t"),
                *(
                    exp.alias_(exp.func("BOOL_OR", covered_flag(r, "t", "d")), cover[r], copy=False)
                    for r in all_reliefs
                ),
            )
            .from_(exp.alias_(exp.to_table(base_name), "t", copy=False), copy=False)
            .join(
                exp.alias_(exp.to_table(base_name), "d", copy=False),
                on=exp.and_(
                    exp.EQ(this=exp.column("subject", "d"), expression=exp.column("subject", "t")),
                    exp.column("category", "d").isin(
                        *(exp.Literal.string(c) for c in decl), copy=False
                    ),
                    *(exp.EQ(this=exp.column(k, "d"), expression=exp.column(k, "t")) for k in keys),
                    copy=False,
                ),
                copy=False,
            )
            .group_by(*(exp.column(k, "t") for k in keys), exp.column("id", "t"), copy=False)
        )
        q = q.join(
            exp.alias_(exp.paren(flags, copy=False), "f", copy=False),
            on=exp.and_(
                exp.EQ(this=exp.column("id", "f"), expression=exp.column("id", "s")),
                *(exp.EQ(this=exp.column(k, "f"), expression=exp.column(k, "s")) for k in keys),
                copy=False,
            ),
            join_type="LEFT",
            copy=False,
        )
        q = q.select(
            *(
                exp.alias_(
                    exp.Coalesce(this=exp.column(cover[r], "f"), expressions=[exp.false()]),
                    cover[r],
                    copy=False,
                )
                for r in all_reliefs
            ),
            copy=False,
        )
    q = q.join(
        exp.alias_(exp.to_table("subjects"), "subj", copy=False),
        on=exp.EQ(this=exp.column("id", "subj"), expression=exp.column("subject", "s")),
        copy=False,
    ).select(
        exp.alias_(exp.column("kind", "subj"), "s_kind", copy=False),
        exp.alias_(exp.column("region", "subj"), "s_region", copy=False),
        exp.alias_(exp.column("registered", "subj"), "s_registered", copy=False),
        copy=False,
    )
    covered_name = b.cte(name_of("stc", q), q)
    # the valid repair: the first repair on or after the earliest day
    rep = repairs(view, sorted(cats))
    case = exp.Case()
    for c in sorted(cats):
        case = case.when(
            exp.EQ(this=exp.column("category", "c"), expression=exp.Literal.string(c)),
            _earliest(b.policy, c, "c", cover),
            copy=False,
        )
    valid = (
        exp.select(
            *(exp.column(k, "rp") for k in keys),
            exp.column("record", "rp"),
            exp.alias_(exp.Min(this=exp.column("repaired", "rp")), "repaired", copy=False),
        )
        .from_(exp.alias_(exp.paren(rep, copy=False), "rp", copy=False), copy=False)
        .join(
            exp.alias_(exp.to_table(covered_name), "c", copy=False),
            on=exp.and_(
                exp.EQ(this=exp.column("id", "c"), expression=exp.column("record", "rp")),
                *(exp.EQ(this=exp.column(k, "c"), expression=exp.column(k, "rp")) for k in keys),
                copy=False,
            ),
            copy=False,
        )
        .where(exp.GTE(this=exp.column("repaired", "rp"), expression=case), copy=False)
        .group_by(*(exp.column(k, "rp") for k in keys), exp.column("record", "rp"), copy=False)
    )
    out = (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("c")),
            exp.alias_(exp.column("repaired", "v"), "repaired", copy=False),
        )
        .from_(exp.alias_(exp.to_table(covered_name), "c", copy=False), copy=False)
        .join(
            exp.alias_(exp.paren(valid, copy=False), "v", copy=False),
            on=exp.and_(
                exp.EQ(this=exp.column("record", "v"), expression=exp.column("id", "c")),
                *(exp.EQ(this=exp.column(k, "v"), expression=exp.column(k, "c")) for k in keys),
                copy=False,
            ),
            join_type="LEFT",
            copy=False,
        )
    )
    return b.cte(name_of("sts", out), out)


def _reach(
    policy: Policy,
    categories: Iterable[str],
    reliefs: Iterable[Relief],
    only: frozenset[str] | None,
) -> tuple[set[str], dict[Relief, str]]:
    """Every category the states need (the declarations of reliefs and of graces too) and
    the ``cov<n>`` column of each relief."""
    cats = set(categories)
    found: list[Relief] = list(dict.fromkeys(reliefs))
    while True:
        for r in found:
            cats.update(c for c in r.categories if only is None or c in only)
        more = [g for g in grace_reliefs(policy, cats) if g not in found]
        if not more:
            return cats, {r: f"cov{n}" for n, r in enumerate(found)}
        found += more


def relief_columns(
    policy: Policy,
    categories: Iterable[str],
    reliefs: Iterable[Relief],
    only: frozenset[str] | None = None,
) -> dict[Relief, str]:
    """The ``cov<n>`` column of each relief in :func:`subject_states`' output."""
    return _reach(policy, categories, reliefs, only)[1]
