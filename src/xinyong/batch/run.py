"""Run a compiled plan (``xinyong.engine.batch``) on an engine over a source: register the
inputs and the plan's own tables, run its checks (the first row found is a refusal naming the
input and the row), write every output the plan has as Parquet beside ``--out`` and rename it
into place with its manifest, so a failed run leaves nothing behind."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import sqlglot.expressions as exp

from xinyong.batch.engines import DuckDBEngine, Engine
from xinyong.batch.outputs import columns_of, shaped, summary_query, write_manifest
from xinyong.batch.sources import Inputs, Location, open_folder, schema_of
from xinyong.engine.batch import Plan, calendar, compile_plan
from xinyong.engine.batch.plan import Table
from xinyong.policy.model import Policy

Progress = Callable[[str, int, int], None]
"""(step, done, total): what the command shows as a progress bar."""


class RefusedPopulation(ValueError):
    """The population holds facts whose semantics the compiled plan does not cover yet."""


class OutExists(FileExistsError):
    pass


_REFUSALS: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "performed_before_calendar": lambda where, row: (
        f"{where}: event {row['id']} (rectified on {row['effective']}, record {row['record']})"
        f" is dated before the working-day calendar's first day, {calendar.FIRST}: the working"
        " days to removal cannot be counted from it; correct the event's date"),
}
"""Check name -> the refusal for its first row; any other check gets the generic message."""


def _checked_table(query: exp.Expr, inputs: Inputs) -> str:
    """The input table a check reports rows of: the first input its outermost FROM reads."""
    src = query.args.get("from_") or query.args.get("from")
    names = [t.name for t in (src.find_all(exp.Table) if src is not None else ())]
    names += [t.name for t in query.find_all(exp.Table)]
    return next((n for n in names if n in inputs.tables), "input")


def refusal(check: str, row: dict[str, Any], inputs: Inputs, query: exp.Expr) -> str:
    table = _checked_table(query, inputs)
    where = inputs.name_of(table)
    known = _REFUSALS.get(check)
    if known is not None:
        try:
            return known(where, row)
        except KeyError:
            pass
    shown = ", ".join(f"{k} {v}" for k, v in row.items())
    return (f"{where}: row ({shown}) fails the plan's check {check!r}: the batch evaluator does "
            "not compile what it holds yet; rate this population with the per-subject engine")


def _literal(value: object) -> exp.Expr:
    return exp.null() if value is None else exp.convert(value)


def table_query(table: Table) -> exp.Select:
    """A plan's small table as a query over literal rows, each column cast to its type."""
    names = [c for c, _ in table.columns]
    cols = [exp.alias_(exp.cast(exp.column(c, "t", quoted=True), ty), c, quoted=True)
            for c, ty in table.columns]
    if not table.rows:
        return exp.select(*(exp.alias_(exp.cast(exp.null(), ty), c, quoted=True)
                            for c, ty in table.columns)).where(exp.false())
    values = exp.values([tuple(_literal(v) for v in row) for row in table.rows], alias="t",
                        columns=names)
    return exp.select(*cols).from_(values)


def _input_query(name: str) -> exp.Select:
    """An input as the plan reads it: the schema's strings, dates and booleans cast to their
    types (a hive partition column, read as text or guessed, then agrees with a generated
    file on every engine). Timestamps stay as read: naive (``TIMESTAMP_NTZ`` on Spark)."""
    import pyarrow.types as pt  # type: ignore[import-untyped]

    cols: list[exp.Expr] = []
    for f in schema_of(name):
        col = exp.column(f.name, "raw", quoted=True)
        ty = ("VARCHAR" if pt.is_string(f.type) else "DATE" if pt.is_date(f.type)
              else "BOOLEAN"
              if pt.is_boolean(f.type) else None)
        cols.append(exp.alias_(exp.cast(col, ty), f.name, quoted=True) if ty else col)
    return exp.select(*cols).from_(exp.alias_(exp.to_table(f"{name}__raw"), "raw"))


def register(engine: Engine, inputs: Inputs, plan: Plan) -> None:
    for name, loc in inputs.tables.items():
        engine.register_parquet(f"{name}__raw", loc.path, loc.hive)
        engine.register_query(name, _input_query(name))
    if "confirmed" not in inputs.tables:  # a folder without confirmations: none confirmed
        engine.register_query("confirmed", table_query(Table((("key", "VARCHAR"),), ())))
    for name, table in plan.tables.items():
        engine.register_query(name, table_query(table))


def check(engine: Engine, inputs: Inputs, plan: Plan) -> None:
    for name, query in plan.checks.items():
        row = engine.first_row(query)
        if row is not None:
            raise RefusedPopulation(refusal(name, row, inputs, query))


@dataclass
class Run:
    """What one run wrote: the manifest's content and per output its summary rows."""

    manifest: dict[str, Any]
    summary: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def run_plan(plan: Plan, inputs: Inputs, engine: Engine, out_dir: Path, *,
             overwrite: bool = False, progress: Progress | None = None,
             extra: dict[str, Any] | None = None) -> Run:
    """Write every output of ``plan`` to ``out_dir`` (``NAME.parquet`` and manifest.json)."""
    if out_dir.exists() and not overwrite:
        raise OutExists(f"--out {out_dir} exists; give a new folder or --overwrite "
                        "(nothing was written)")
    outputs = list(plan.outputs)
    total = len(outputs) + 1
    tick = progress or (lambda _s, _d, _t: None)
    tick("checks", 0, total)
    register(engine, inputs, plan)
    check(engine, inputs, plan)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    rows: dict[str, int] = {}
    try:
        for n, name in enumerate(outputs, 1):
            tick(name, n, total)
            rows[name] = engine.write_parquet(shaped(name, plan.outputs[name]),
                                              work / f"{name}.parquet")
        manifest = {
            "policy_digest": plan.policy_digest, "as_of": plan.as_of.isoformat(),
            "known_at": plan.known_at.isoformat(), "engine": engine.name,
            "engine_detail": engine.describe(), "source": inputs.description,
            "schemes": list(plan.schemes), "lists": list(plan.lists),
            "outputs": {name: f"{name}.parquet" for name in outputs}, "rows": rows,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        write_manifest(work / "manifest.json", manifest)
        summary = summarise(work, outputs)
        if out_dir.exists():  # --overwrite: the old folder goes only once the new one is whole
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            work.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    tick("done", total, total)
    return Run(manifest, summary)


def summarise(folder: Path, outputs: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Counts by the summary columns of each written output, read back from its Parquet."""
    out: dict[str, list[dict[str, Any]]] = {}
    engine = DuckDBEngine("512MB")
    try:
        for name in outputs:
            engine.register_parquet("output", folder / f"{name}.parquet", hive=False)
            cols = list(engine.to_arrow(exp.select("*").from_("output").limit(0)).column_names)
            q = summary_query(name, cols)
            out[name] = [] if q is None else engine.to_arrow(q).to_pylist()
    finally:
        engine.close()
    return out


@contextmanager
def ledger_inputs(url: str, known_at: datetime, temp_dir: Path | None = None,
                  progress: Callable[[str], None] | None = None) -> Iterator[Inputs]:
    """The ledger exported to temporary Parquet files (removed afterwards)."""
    from xinyong.batch.snapshot import export

    with tempfile.TemporaryDirectory(prefix="xinyong-ledger-", dir=temp_dir) as tmp:
        yield export(url, known_at, Path(tmp), progress)


def rate(policy: Policy, data_dir: Path, as_of: date, schemes: Iterable[str] | None = None,
         known_at: datetime | None = None, engine: Engine | None = None) -> pa.Table:
    """Ratings (subject, scheme, score, grade) of every subject in ``data_dir`` on ``as_of``
    under the points schemes named (default: every scheme in force, which must all compile),
    in the output contract's types and order."""
    plan = compile_plan(policy, as_of, known_at=known_at, schemes=schemes, outputs=("ratings",))
    try:
        inputs = open_folder(data_dir)
    except ValueError as e:
        raise FileNotFoundError(str(e)) from None
    own = engine is None
    eng: Engine = engine if engine is not None else DuckDBEngine()
    try:
        register(eng, inputs, plan)
        check(eng, inputs, plan)
        return eng.to_arrow(shaped("ratings", plan.outputs["ratings"]))
    finally:
        if own:
            eng.close()


__all__ = ["Location", "OutExists", "RefusedPopulation", "Run", "columns_of", "rate",
           "run_plan"]
