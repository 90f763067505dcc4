"""Run a compiled plan on DuckDB over a population folder's Parquet files."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from xinyong.engine.batch import compile_plan
from xinyong.policy.model import Policy

TABLES = ("subjects", "records", "events")


class RefusedPopulation(ValueError):
    """The population holds facts whose semantics the compiled plan does not cover yet."""


def rate(policy: Policy, data_dir: Path, as_of: date, schemes: Iterable[str] | None = None,
         known_at: datetime | None = None) -> pa.Table:
    """Ratings (subject, scheme, score, grade) of every subject in ``data_dir`` on ``as_of``
    under the points schemes named (default: every scheme in force, which must all compile)."""
    plan = compile_plan(policy, as_of, known_at=known_at, schemes=schemes, outputs=("ratings",))
    missing = [t for t in TABLES if not (data_dir / f"{t}.parquet").is_file()]
    if missing:
        raise FileNotFoundError(f"{data_dir}: no {', '.join(t + '.parquet' for t in missing)}; "
                                "write a population with `xinyong sim generate --out DIR`")
    con = duckdb.connect()
    try:
        for t in TABLES:
            path = str(data_dir / f"{t}.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
        bad = con.execute(plan.checks["uncompiled_events"].sql(dialect="duckdb")).fetchall()
        if bad:
            ev, kind, record = bad[0]
            raise RefusedPopulation(
                f"{data_dir}/events.parquet: event {ev} ({kind}) on record {record} changes "
                "what the record counts, and the batch evaluator does not compile "
                f"{kind} events yet; rate this population with the per-subject engine")
        return con.sql(plan.sql("ratings", "duckdb")).to_arrow_table()
    finally:
        con.close()
