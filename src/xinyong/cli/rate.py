"""`xinyong rate`: a whole population rated by the batch evaluator (``xinyong.batch``) and
written as Parquet with a manifest (a top-level command)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from xinyong.cli.common import (
    AsOfOpt,
    KnownAtOpt,
    PoliciesOpt,
    _date,
    _datetime,
    _policy,
    fail,
    guarded,
    out,
)

app = typer.Typer()


@app.command(epilog="Exit codes: 0 rated; 2 refused: bad input, a scheme construct or event "
             "the batch evaluator does not compile yet (named with file and key), an existing "
             "--out folder, missing data.")
def rate(
    data: Annotated[Path, typer.Option(
        "--data", help="Population folder written by `xinyong sim generate`")],
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Folder to create with ratings.parquet and manifest.json")],
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    schemes: Annotated[list[str] | None, typer.Option(
        "--scheme", help="A scheme to rate (repeat; default: every scheme in force)")] = None,
    policies: PoliciesOpt = None,
) -> None:
    """Rate every subject of a population on one date with the batch evaluator (DuckDB).
    So far points schemes compile; any other construct is refused with its file and key."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from xinyong.batch import RefusedPopulation
    from xinyong.batch import rate as batch_rate
    from xinyong.engine.batch import Unsupported

    if out_dir.exists():
        fail(f"--out {out_dir} exists; give a new folder (nothing was written)")
    day, known = _date(as_of), _datetime(known_at)
    policy = _policy(policies)
    try:
        table = guarded(lambda: batch_rate(policy, data, day, schemes, known))
    except (Unsupported, RefusedPopulation) as e:
        fail(str(e))
    # written beside --out and renamed at the end: a failed run leaves no partial output
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        pq.write_table(table, work / "ratings.parquet")
        rows = table.to_pylist()
        manifest = {
            "policy_digest": policy.digest, "as_of": day.isoformat(),
            "known_at": known.isoformat() if known else None, "engine": "duckdb",
            "schemes": sorted({r["scheme"] for r in rows}) if schemes is None else schemes,
            "rows": {"ratings": table.num_rows},
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                            encoding="utf-8")
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    counts = Counter((r["scheme"], r["grade"]) for r in rows)
    out.print(f"rated {table.num_rows} subject-scheme pairs on {day} -> {out_dir}",
              highlight=False)
    for (scheme, grade), n in sorted(counts.items()):
        out.print(f"  {scheme:32} {grade:12} {n:8}", highlight=False)
