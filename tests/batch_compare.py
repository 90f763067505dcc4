"""The batch evaluator against the per-subject engine, as rows of the output contract
(``docs/batch.md``; the helpers' brief): the engine's standings turned into ``ratings``,
``entries`` and ``measures`` rows, a compiled plan run on an engine (DuckDB here; Spark when
its runner lands) over the four input tables, and a report naming the first differing row.

Plans are compiled once per (as-of, known-at, coverage) and their SQL text kept: compiling
is not part of each example."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import sqlglot.expressions as exp

from xinyong.dataset import Dataset
from xinyong.engine.batch import compile_plan
from xinyong.model import (
    AppliedMeasure,
    Link,
    ListEntry,
    Rating,
    Record,
    RecordEvent,
    Standing,
    Subject,
)
from xinyong.policy.model import Policy
from xinyong.sim.parquet import SCHEMAS, _columns
from xinyong.sim.population import AttributeTable, Population
from xinyong.standings import standings

Row = tuple[Any, ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    "ratings": ("subject", "scheme", "score", "band_grade", "grade", "reasons"),
    "entries": ("key", "list", "rule", "subject", "listed_on", "start", "planned_end", "end",
                "status", "records"),
    "measures": ("subject", "measure", "kind", "effect", "clause", "memorandum", "via",
                 "listed_subject", "list", "entry", "pending_review"),
}
"""The output contract: each output's columns, in order."""

IDENTITY: dict[str, tuple[str, ...]] = {
    "ratings": ("subject", "scheme"),
    "entries": ("subject", "list", "rule", "key"),
    "measures": ("subject", "measure", "clause", "entry", "via"),
}
"""The columns that say which row a row is, to put the two sides of a difference together."""

INPUTS = ("subjects", "links", "records", "events")


@dataclass(frozen=True)
class Coverage:
    """What the batch evaluator is compared on: the schemes whose ratings, and the lists
    whose entries and measures, it must reproduce. Lists are list ids (``ListRule.list_id``);
    the measures of a list are those its entries bind, on the listed subject and along links."""

    schemes: frozenset[str] = frozenset()
    entries: frozenset[str] = frozenset()
    measures: frozenset[str] = frozenset()

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(o for o, on in (("ratings", self.schemes), ("entries", self.entries),
                                     ("measures", self.measures)) if on)


@dataclass(frozen=True)
class Case:
    """One population and the dates it is rated on."""

    as_of: date
    known_at: datetime | None
    subjects: tuple[Subject, ...]
    links: tuple[Link, ...]
    records: tuple[Record, ...]
    events: tuple[RecordEvent, ...]

    def part(self, tag: str) -> Case:
        """The population of ``tag`` (ids beginning ``a-``, ``b-``...): one of several rated
        together, which share nothing."""
        return Case(self.as_of, self.known_at,
                    tuple(s for s in self.subjects if s.id.startswith(tag)),
                    tuple(lk for lk in self.links if lk.organisation.startswith(tag)),
                    tuple(r for r in self.records if r.subject.startswith(tag)),
                    tuple(e for e in self.events if e.record.startswith(tag)))

    def tags(self) -> list[str]:
        return sorted({s.id.split("-", 1)[0] + "-" for s in self.subjects if "-" in s.id})


# --- the engine's side ---------------------------------------------------------------------


def _sortable(row: Row) -> tuple[tuple[bool, Any], ...]:
    return tuple((v is None, v) for v in row)


def rating_row(subject: str, r: Rating) -> Row:
    return (subject, r.scheme, r.score, r.band_grade, r.grade, tuple(r.principal_reasons))


def entry_row(e: ListEntry) -> Row:
    return (e.key, e.list, e.rule, e.subject, e.listed_on, e.start, e.planned_end, e.end,
            e.status.value, tuple(e.records))


def measure_row(subject: str, m: AppliedMeasure) -> Row:
    if len(m.via) > 1:
        raise AssertionError(f"measure {m.measure} reached {subject} by {m.via}: the contract "
                             "has one via path per row")
    return (subject, m.measure, m.kind, m.effect, m.clause, m.memorandum,
            m.via[0] if m.via else None, m.listed_subject, m.entry.list, m.entry.key,
            m.pending_review)


def engine_rows(found: Mapping[str, Standing], coverage: Coverage) -> dict[str, list[Row]]:
    """The contract's rows of the standings, restricted to what ``coverage`` covers."""
    out: dict[str, list[Row]] = {o: [] for o in coverage.outputs}
    for sid, st in found.items():
        if "ratings" in out:
            out["ratings"] += [rating_row(sid, r) for k, r in st.ratings.items()
                               if k in coverage.schemes]
        if "entries" in out:
            out["entries"] += [entry_row(e) for e in st.entries if e.list in coverage.entries]
        if "measures" in out:
            out["measures"] += [measure_row(sid, m) for m in st.measures
                                if m.entry.list in coverage.measures]
    return {o: sorted(rows, key=_sortable) for o, rows in out.items()}


def engine_standings(policy: Policy, case: Case) -> dict[str, Standing]:
    data = Dataset(case.subjects, case.links, case.records, case.events)
    return standings(data, policy, case.subjects, case.as_of, case.known_at)


# --- the batch side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Compiled:
    """A plan's SQL text per output and per check in one dialect, and its small tables."""

    sql: Mapping[str, str]
    checks: Mapping[str, str]
    tables: Mapping[str, Any]
    schemes: tuple[str, ...]
    lists: tuple[str, ...]


def in_force(policy: Policy, as_of: date, coverage: Coverage) -> tuple[tuple[str, ...],
                                                                       tuple[str, ...]]:
    """The covered schemes and lists in force on ``as_of`` (the engine rates no others)."""
    view = policy.at(as_of)
    lists = {r.list_id for r in view.list_rules.values()}
    return (tuple(sorted(coverage.schemes & set(view.schemes))),
            tuple(sorted((coverage.entries | coverage.measures) & lists)))


_PLANS: dict[tuple[Any, ...], Compiled] = {}


def _renamed(query: exp.Expr, names: Mapping[str, str]) -> exp.Expr:
    """``query`` reading each small table under its content's name, so that plans whose
    tables differ never read each other's and plans whose tables agree share one."""
    if not names:
        return query
    query = query.copy()
    for t in query.find_all(exp.Table):
        if not t.args.get("db") and t.name in names:
            t.set("this", exp.to_identifier(names[t.name]))
    return query


def compiled(policy: Policy, as_of: date, known_at: datetime | None, coverage: Coverage,
             dialect: str) -> Compiled:
    """The plan for one (as-of, known-at, coverage), compiled once and kept as SQL text.
    A construct that does not compile raises (never skipped)."""
    key = (id(policy), as_of, known_at, coverage, dialect)
    found = _PLANS.get(key)
    if found is None:
        schemes, lists = in_force(policy, as_of, coverage)
        plan = compile_plan(policy, as_of, known_at=known_at, schemes=schemes, lists=lists,
                            outputs=coverage.outputs)
        names = {n: f"{n}__{hash((t.columns, tuple(t.rows))) & 0xFFFFFFFF:08x}"
                 for n, t in plan.tables.items()}
        found = _PLANS[key] = Compiled(
            {o: _renamed(plan.outputs[o], names).sql(dialect=dialect)
             for o in coverage.outputs},
            {c: _renamed(q, names).sql(dialect=dialect) for c, q in plan.checks.items()},
            {names[n]: t for n, t in plan.tables.items()}, schemes, lists)
    return found


def arrow_inputs(case: Case) -> dict[str, pa.Table]:
    """The four input tables exactly as ``write_population`` writes them (same columns,
    types and JSON amounts), in memory."""
    pop = Population(case.subjects, case.links, case.records, case.events,
                     AttributeTable((), (), ()), 0, case.as_of, case.as_of, "")
    cols = _columns(pop)
    return {t: pa.table(cols[t], schema=SCHEMAS[t]) for t in INPUTS}


class Refused(AssertionError):
    """A plan's check found input rows it cannot rate: the batch evaluator refuses the
    population, so it cannot equal the engine on it."""


@dataclass(frozen=True)
class Result:
    """An output as an engine returns it: column names and rows of Python values."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class BatchEngine(Protocol):
    """Runs compiled SQL over input tables: DuckDB embedded; Spark (local mode) later.
    Raises :class:`Refused` when a check of the plan finds rows."""

    dialect: str

    def run(self, plan: Compiled, inputs: Mapping[str, pa.Table]) -> dict[str, Result]: ...


_ARROW_TYPES = {"DATE": pa.date32(), "VARCHAR": pa.string(), "TEXT": pa.string(),
                "BIGINT": pa.int64(), "INT": pa.int32(), "INTEGER": pa.int32(),
                "BOOLEAN": pa.bool_(), "DOUBLE": pa.float64(),
                "DECIMAL(38, 6)": pa.decimal128(38, 6), "TIMESTAMP": pa.timestamp("us")}


def plan_table(t: Any) -> pa.Table:
    """A plan's small table (:class:`~xinyong.engine.batch.plan.Table`) as Arrow, with the
    SQL types the compiler declared."""
    names = [n for n, _ in t.columns]
    types = []
    for n, ty in t.columns:
        if ty.upper() not in _ARROW_TYPES:
            raise AssertionError(f"plan table column {n} has SQL type {ty}, which "
                                 "batch_compare does not map to Arrow yet: add it")
        types.append(_ARROW_TYPES[ty.upper()])
    cols = list(zip(*t.rows, strict=True)) if t.rows else [() for _ in names]
    return pa.table([pa.array(list(c), type=ty) for c, ty in zip(cols, types, strict=True)],
                    names=names)


@dataclass
class DuckDB:
    """One in-memory DuckDB connection for a whole test run. The inputs are four tables
    emptied and refilled for each example, and each plan's queries are prepared once:
    planning a query costs ~70 ms, running a prepared one on a small population ~25 ms.
    (Arrow tables registered anew would be faster to fill, but a statement prepared over
    them keeps reading the first ones.)"""

    dialect: str = "duckdb"
    con: duckdb.DuckDBPyConnection = field(default_factory=duckdb.connect)
    _prepared: dict[int, tuple[dict[str, str], dict[str, str]]] = field(default_factory=dict)
    _small: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for name in INPUTS:
            self.con.register("empty_input", SCHEMAS[name].empty_table())
            self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM empty_input")
            self.con.unregister("empty_input")

    def _prepare(self, plan: Compiled) -> tuple[dict[str, str], dict[str, str]]:
        found = self._prepared.get(id(plan))
        if found is None:
            for name, t in plan.tables.items():
                if name not in self._small:
                    self.con.register("small_table", plan_table(t))
                    self.con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM small_table')
                    self.con.unregister("small_table")
                    self._small.add(name)
            n = len(self._prepared)
            names = ({c: f"check_{n}_{k}" for k, c in enumerate(plan.checks)},
                     {o: f"output_{n}_{k}" for k, o in enumerate(plan.sql)})
            for (label, stmt) in (*names[0].items(), *names[1].items()):
                sql = plan.checks[label] if stmt.startswith("check") else plan.sql[label]
                self.con.execute(f"PREPARE {stmt} AS {sql}")
            found = self._prepared[id(plan)] = names
        return found

    def run(self, plan: Compiled, inputs: Mapping[str, pa.Table]) -> dict[str, Result]:
        checks, outputs = self._prepare(plan)
        self.con.execute("; ".join(f"DELETE FROM {name}" for name in INPUTS))
        for name in INPUTS:
            self.con.from_arrow(inputs[name]).insert_into(name)
        for check, stmt in checks.items():
            bad = self.con.execute(f"EXECUTE {stmt}").fetchall()
            if bad:
                raise Refused(f"the plan refuses the population: check {check} found {bad[0]}")
        out: dict[str, Result] = {}
        for o, stmt in outputs.items():
            res = self.con.execute(f"EXECUTE {stmt}")
            cols = tuple(d[0] for d in res.description or ())
            out[o] = Result(cols, res.fetchall())
        return out


def _value(column: str, v: Any) -> Any:
    if column == "score" and v is not None:
        return Decimal(v)
    if isinstance(v, list):
        return tuple(v)
    return v


def batch_rows(results: Mapping[str, Result]) -> dict[str, list[Row]]:
    """The contract's rows of the batch output. A column the contract names and the output
    lacks is a mismatch (raised), not a column left out of the comparison."""
    out: dict[str, list[Row]] = {}
    for name, result in results.items():
        want = COLUMNS[name]
        missing = [c for c in want if c not in result.columns]
        if missing:
            raise AssertionError(f"batch {name} output lacks the contract's column(s) "
                                 f"{', '.join(missing)} (has {', '.join(result.columns)})")
        at = [result.columns.index(c) for c in want]
        out[name] = sorted((tuple(_value(c, r[i]) for c, i in zip(want, at, strict=True))
                            for r in result.rows), key=_sortable)
    return out


# --- the comparison ------------------------------------------------------------------------


def _show(row: Row) -> str:
    def one(v: Any) -> str:
        if isinstance(v, Decimal):
            return format(v.normalize(), "f")
        if isinstance(v, tuple):
            return "[" + ", ".join(map(one, v)) + "]"
        return "NULL" if v is None else str(v)

    return "(" + ", ".join(one(v) for v in row) + ")"


def first_difference(output: str, batch: Sequence[Row],
                     engine: Sequence[Row]) -> tuple[str, str] | None:
    """None if equal (as multisets); else the first differing row in sort order, with the
    row of the same identity on the other side (or that there is none), and its subject."""
    only_b = Counter(batch) - Counter(engine)
    only_e = Counter(engine) - Counter(batch)
    if not only_b and not only_e:
        return None
    cols = COLUMNS[output]
    ident = [cols.index(c) for c in IDENTITY[output]]

    def same(a: Row, b: Row) -> bool:
        return all(a[i] == b[i] for i in ident)

    first = min([*only_b, *only_e], key=_sortable)
    side, other = ("batch", only_e) if first in only_b else ("engine", only_b)
    partner = next((r for r in sorted(other, key=_sortable) if same(r, first)), None)
    lines = [f"{output}: first differing row (columns: {', '.join(cols)})",
             f"  {side:6}: {_show(first)}"]
    there = "engine" if side == "batch" else "batch"
    who = dict(zip(IDENTITY[output], (first[i] for i in ident), strict=True))
    lines.append(f"  {there:6}: {_show(partner)}" if partner is not None
                 else f"  {there:6}: no row for {who}")
    lines.append(f"  ({sum(only_b.values())} row(s) only in batch, "
                 f"{sum(only_e.values())} only in engine, of {len(batch)} / {len(engine)})")
    return "\n".join(lines), str(first[cols.index("subject")])


def describe(case: Case) -> str:
    """The population as short lines: what a person fixing the difference reads first."""
    out = [f"as_of {case.as_of}  known_at {case.known_at or 'end of as_of'}"]
    for s in case.subjects:
        extra = f" registered {s.registered}" if s.registered else ""
        if s.opt_ins:
            extra += " opt_ins " + ", ".join(f"{p}@{d}" for p, d in s.opt_ins)
        out.append(f"subject {s.id} {s.kind.value} {s.region}{extra}")
    for lk in case.links:
        out.append(f"link {lk.organisation} -{lk.role.value}-> {lk.party} "
                   f"[{lk.start}, {lk.end or '...'})")
    events: dict[str, list[Any]] = {}
    for e in case.events:
        events.setdefault(e.record, []).append(e)
    for r in case.records:
        amounts = (" " + ", ".join(f"{k}={v}" for k, v in r.amounts.items())) if r.amounts else ""
        out.append(f"record {r.id} {r.subject} {r.category} effective {r.effective} "
                   f"recorded {r.recorded_at}{amounts}")
        for e in events.pop(r.id, ()):
            amounts = (" " + ", ".join(f"{k}={v}" for k, v in e.amounts.items())
                       if e.amounts else "")
            out.append(f"  event {e.id} {e.kind.value} effective {e.effective} "
                       f"recorded {e.recorded_at}{amounts}")
    for rid, evs in events.items():  # events on records handed in twice are listed above
        for e in evs:
            out.append(f"event {e.id} on {rid} {e.kind.value} effective {e.effective}")
    return "\n".join(out)


def mismatch(case: Case, batch: Mapping[str, Sequence[Row]],
             engine: Mapping[str, Sequence[Row]]) -> str | None:
    """The report of the first output that differs, with the population; None if all agree."""
    for output in COLUMNS:
        if output not in engine and output not in batch:
            continue
        diff = first_difference(output, batch.get(output, ()), engine.get(output, ()))
        if diff is not None:
            text, subject = diff
            tag = next((t for t in case.tags() if subject.startswith(t)), "")
            return (f"batch and per-subject engine differ\n{text}\n"
                    f"population{' ' + tag.rstrip('-') if tag else ''} (of "
                    f"{len(case.tags()) or 1} rated together):\n{describe(case.part(tag))}")
    return None


def compare(policy: Policy, engine: BatchEngine, case: Case, coverage: Coverage) -> str | None:
    """Run both evaluators on ``case``; the mismatch report, or None."""
    plan = compiled(policy, case.as_of, case.known_at, coverage, engine.dialect)
    try:
        batch = batch_rows(engine.run(plan, arrow_inputs(case)))
    except Refused as e:
        return f"{e}\npopulations:\n{describe(case)}"
    return mismatch(case, batch, engine_rows(engine_standings(policy, case), coverage))
