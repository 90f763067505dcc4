"""Measures compiled (``engine.evaluate._measures``): for every active entry, the measures its
list binds, on the listed subject and along each clause's ``extend_to`` link paths (links in
force on as-of), with the path and the listed subject; with due process, a significant
measure that is not a reward is pending review until a reviewer confirms its entry
(input table ``confirmed(key)``, ``evaluate._applied``).

The bindings in force are a small table of the plan's own (``list_bindings``): one row per
clause on a list, with ``path`` NULL for the listed subject and a link path for each
extension. The output is one query over the entries CTE: leaving it out costs nothing."""

from __future__ import annotations

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.plan import Table
from xinyong.engine.batch.sql import day, lit
from xinyong.model import EntryStatus

BINDINGS = "list_bindings"
LINKS = "links_on"
"""CTE: the links in force on as-of (organisation, party, role)."""
_COLUMNS = ("subject", "measure", "kind", "effect", "clause", "memorandum", "via",
            "listed_subject", "list", "entry", "pending_review")


def bindings_table(b: Build, lists: tuple[str, ...]) -> Table:
    """(list, path, measure, kind, effect, clause, memorandum, significant) of every clause
    in force on a list compiled; ``path`` NULL for the listed subject itself."""
    view = b.view
    rows: list[tuple[object, ...]] = []
    for lst in lists:
        for bd in view.bindings_by_list.get(lst, ()):
            rows.append((lst, None, bd.measure.id, bd.kind, bd.effect, bd.clause.id,
                         bd.memorandum.id, bd.measure.significant))
    for path, bound in sorted(view.extensions.items()):
        for lst, bd in bound:
            if lst in lists:
                rows.append((lst, path, bd.measure.id, bd.kind, bd.effect, bd.clause.id,
                             bd.memorandum.id, bd.measure.significant))
    return Table((("list", "VARCHAR"), ("path", "VARCHAR"), ("measure", "VARCHAR"),
                  ("kind", "VARCHAR"), ("effect", "VARCHAR"), ("clause", "VARCHAR"),
                  ("memorandum", "VARCHAR"), ("significant", "BOOLEAN")), rows)


def compile_measures(b: Build, entries: str, lists: tuple[str, ...] = (), *,
                     due_process: bool = False) -> exp.Select:
    """The ``measures`` output rows, reading the entries CTE ``entries`` (of ``lists``)."""
    b.tables[BINDINGS] = table = bindings_table(b, lists)
    c = exp.column
    active = exp.EQ(this=c("status", "e"), expression=lit(EntryStatus.ACTIVE.value))
    parts: list[exp.Select] = [_applied(entries, exp.select(
        exp.alias_(c("subject", "e"), "subject"), exp.alias_(exp.cast(exp.null(), "VARCHAR"),
                                                             "via")), due_process).where(exp.and_(
        active, c("path", "m").is_(exp.null())))]
    paths = sorted({str(row[1]) for row in table.rows if row[1] is not None})
    if paths:
        on = b.as_of
        b.cte(LINKS, exp.select("organisation", "party", "role").from_("links").where(exp.and_(
            exp.LTE(this=c("start"), expression=day(on)),
            exp.or_(c("end", quoted=True).is_(exp.null()),
                    exp.GT(this=c("end", quoted=True), expression=day(on))))))
    for n, path in enumerate(paths):
        bound = sorted({str(row[0]) for row in table.rows if row[1] == path})
        reach = _reach(b, entries, path, bound, f"reach{n}")
        q = _applied(entries, exp.select(
            exp.alias_(c("target", "t"), "subject"), exp.alias_(lit(path), "via")), due_process)
        q = q.join(exp.alias_(exp.to_table(reach), "t"), on=exp.EQ(
            this=c("origin", "t"), expression=c("subject", "e"))).join(
            exp.alias_(exp.to_table("subjects"), "s"), on=exp.EQ(
                this=c("id", "s"), expression=c("target", "t")))
        parts.append(q.where(exp.and_(active, exp.EQ(this=c("path", "m"),
                                                    expression=lit(path)))))
    body: exp.Query = parts[0]
    for p in parts[1:]:
        body = exp.union(body, p, distinct=False)
    return exp.select(*_COLUMNS).from_(exp.alias_(exp.paren(body), "applied")).order_by(
        "subject", "entry", "measure", "clause", "via")


def _applied(entries: str, head: exp.Select, due_process: bool) -> exp.Select:
    """``head``'s subject and via, then the binding's columns, for entries ``e`` joined to
    their list's bindings ``m`` (and, with due process, the confirmations ``cf``)."""
    c = exp.column
    q = head.select(c("measure", "m"), c("kind", "m"), c("effect", "m"), c("clause", "m"),
                    c("memorandum", "m"), exp.alias_(c("subject", "e"), "listed_subject"),
                    c("list", "e"), exp.alias_(c("key", "e"), "entry")).from_(
        exp.alias_(exp.to_table(entries), "e")).join(
        exp.alias_(exp.to_table(BINDINGS), "m"),
        on=exp.EQ(this=c("list", "m"), expression=c("list", "e")))
    if not due_process:
        return q.select(exp.alias_(exp.false(), "pending_review"))
    confirmed = exp.select("key").distinct().from_("confirmed")
    q = q.join(exp.alias_(exp.paren(confirmed), "cf"), on=exp.EQ(
        this=c("key", "cf"), expression=c("key", "e")), join_type="LEFT")
    pending = exp.and_(c("significant", "m"),
                       exp.NEQ(this=c("kind", "m"), expression=lit("reward")),
                       c("key", "cf").is_(exp.null()))
    return q.select(exp.alias_(pending, "pending_review"))


def _reach(b: Build, entries: str, path: str, lists: list[str], name: str) -> str:
    """CTE ``name``: (origin, target) for every listed subject of ``lists`` with an active
    entry and every other subject its links in force reach along ``path``
    (``facts.reachable``: a step ``role`` goes from an organisation to its party in that
    role, ``role_of`` back)."""
    c = exp.column
    cur: exp.Select = exp.select(exp.alias_(c("subject"), "origin"),
                                 exp.alias_(c("subject"), "node")).distinct().from_(entries).where(
        exp.and_(exp.EQ(this=c("status"), expression=lit(EntryStatus.ACTIVE.value)),
                 c("list").isin(*(lit(x) for x in lists))))
    for k, step in enumerate(path.split("/")):
        back = step.endswith("_of")
        role = step[:-3] if back else step
        frm, to = ("party", "organisation") if back else ("organisation", "party")
        prev = f"p{k}"
        cur = exp.select(c("origin", prev), exp.alias_(c(to, "l"), "node")).distinct().from_(
            exp.alias_(exp.paren(cur), prev)).join(
            exp.alias_(exp.to_table(LINKS), "l"), on=exp.and_(
                exp.EQ(this=c(frm, "l"), expression=c("node", prev)),
                exp.EQ(this=c("role", "l"), expression=lit(role))))
    done = exp.select("origin", exp.alias_(c("node"), "target")).from_(
        exp.alias_(exp.paren(cur), "walk")).where(
        exp.NEQ(this=c("node"), expression=c("origin")))
    return b.cte(name, done)
