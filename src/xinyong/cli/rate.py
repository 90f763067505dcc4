"""`xinyong rate`: a whole population rated by the batch evaluator (``xinyong.batch``) on DuckDB
or Spark, written as Parquet with a manifest (a top-level command). The logic is in
``xinyong.batch.job``; this reads the options, shows progress and the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from xinyong.cli.common import (
    AsOfOpt,
    ExitCode,
    KnownAtOpt,
    PoliciesOpt,
    _date,
    _datetime,
    _policy,
    err,
    fail,
    guarded,
    out,
)

app = typer.Typer()

EPILOG = ("Exit codes: 0 rated (every output written, with manifest.json); 2 refused, "
          "nothing written: bad input (bad rows of the population are all listed), a policy "
          "construct the batch evaluator cannot express (named with file and key), an "
          "existing --out without --overwrite, a memory or disk limit hit "
          "(named, with how to raise it), an unreadable source. See docs/batch.md.")


@app.command(epilog=EPILOG)
def rate(
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Folder to create: NAME.parquet per output and manifest.json")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="Population folder (`xinyong sim generate`) or a partitioned dataset "
        "(a folder per table of Parquet files)")] = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="Read one snapshot of the ledger at this URL (sqlite:///PATH or "
        "postgresql+psycopg://…) instead of --data")] = None,
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    engine: Annotated[str, typer.Option(
        "--engine", help="duckdb (embedded) or spark (local[2], or --spark-master)")] = "duckdb",
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="Spark master URL, e.g. spark://host:7077 (default local[2])")
    ] = None,
    schemes: Annotated[list[str] | None, typer.Option(
        "--scheme", help="A scheme to rate (repeat; default: every scheme in force)")] = None,
    presets: Annotated[list[str] | None, typer.Option(
        "--presets", help="Rate the schemes and lists these presets declare (repeat)")] = None,
    outputs: Annotated[list[str] | None, typer.Option(
        "--output", help="ratings, entries or measures (repeat; default: all three)")] = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="DuckDB memory limit, e.g. 4GB (default: half the RAM)")] = None,
    temp_dir: Annotated[Path | None, typer.Option(
        "--temp-dir", help="Folder to spill to and for the ledger's snapshot")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing --out (only once the new one is whole)")
    ] = False,
    policies: PoliciesOpt = None,
) -> None:
    """Rate every subject of a population on one date with the batch evaluator and write
    the outputs asked for (ratings, entries, measures: default all three) as Parquet."""
    from xinyong.batch import (
        BadSource,
        EngineLimit,
        InvalidPopulation,
        OutExists,
        RefusedPopulation,
    )
    from xinyong.batch.job import Job, execute
    from xinyong.engine.batch import Unsupported

    if (data is None) == (database is None):
        fail("give one source: --data DIR or --database URL")
    if schemes and presets:
        fail("give --scheme or --presets, not both")
    if engine not in ("duckdb", "spark"):
        fail(f"--engine {engine!r}: choose duckdb or spark")
    if spark_master and engine != "spark":
        fail("--spark-master needs --engine spark")
    day, known = _date(as_of), _datetime(known_at)
    policy = _policy(policies)
    job = Job(policy, day, out_dir, data, database, known, engine, spark_master, memory_limit,
              temp_dir, schemes, presets, outputs, overwrite)
    try:
        run = guarded(lambda: _with_progress(job, execute))
    except InvalidPopulation as e:
        err.print(f"[bold red]error:[/] {e}:", highlight=False)
        for p in e.problems:
            err.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except (Unsupported, RefusedPopulation, BadSource, OutExists, EngineLimit) as e:
        fail(str(e))
    except ValueError as e:  # an unknown output name
        fail(str(e))
    rows = run.manifest["rows"]
    out.print(f"rated on {day} with {engine}: "
              + ", ".join(f"{n} {k}" for k, n in rows.items()) + f" -> {out_dir}",
              highlight=False)
    _summary(run.summary)


def _with_progress(job: Any, execute: Any) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("compiling", total=None)

        def tick(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        return execute(job, tick, lambda m: bar.update(task, description=m))


def _summary(summary: dict[str, list[dict[str, Any]]]) -> None:
    from rich.table import Table

    titles = {"ratings": "Subjects per grade per scheme", "entries": "List sizes",
              "measures": "Measures in force by kind"}
    for name, rows in summary.items():
        if not rows:
            continue
        table = Table(title=titles.get(name, name))
        for col in rows[0]:
            table.add_column(col, justify="right" if col == "n" else "left")
        for r in rows:
            table.add_row(*(str(v) for v in r.values()))
        out.print(table)
