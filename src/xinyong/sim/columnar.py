"""The columnar population generator: national scale in DuckDB SQL, chunk by chunk.

Randomness is a seeded hash: ``u(stage, key)`` is ``hash(seed, stage, key)`` as a uniform
in [0, 1), so every value is a pure function of (seed, what it is, whose it is) and the
same seed gives the same rows in the same order, hence the same Parquet bytes. Nothing
loops in Python per subject or per record; Python only walks the chunks.

The distributions are those of :mod:`xinyong.sim.shape` (the per-object generator reads
the same ones). What differs from the per-object generator, and why (docs/performance.md):
a subject's records are drawn per subject (a Poisson count with mean rate x propensity /
mean propensity, then the category by its weight), not per category among all subjects;
records a subject could not have (before adulthood or registration) are dropped rather than
redrawn; legal representatives and other role holders are drawn uniformly from the pool of
persons born by 1981 rather than round-robin; a document number is the record's own number
(unique within its agency and year, without a sort by agency).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from xinyong.policy.model import Policy
from xinyong.sim import shape
from xinyong.sim.columnar_sql import Sql
from xinyong.sim.columnar_tables import KINDS, LEVELS, Sizes, Tables, build
from xinyong.sim.parquet import SCHEMAS

GENERATOR_VERSION = "columnar-1"
FORMAT_VERSION = 2
TABLES = ("subjects", "links", "records", "events", "attributes")
_REPEATING = {"kind", "region", "category", "agency", "legal_basis", "channel", "act_date",
              "effective", "role", "start", "end", "registered", "note", "amounts"}


@dataclass
class Written:
    """Counts and part files written so far."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    writer: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))
    pending: list[Future[None]] = field(default_factory=list)

    def drain(self, keep: int = 0) -> None:
        """Wait for the writes but the last ``keep`` (re-raising their errors)."""
        while len(self.pending) > keep:
            self.pending.pop(0).result()


Progress = Callable[[str, int], None]
"""Called with (what, how many subjects) after each chunk."""


def expected_records(tables: Tables, sizes: Sizes) -> float:
    """Records expected before dropping those a subject could not have yet."""
    n_rc = tables.n_region_classes
    total = 0.0
    for k, (count, weights) in enumerate((
            (sizes.persons, tables.person_weight), (sizes.firms, tables.org_weight),
            (sizes.public_bodies, tables.org_weight), (sizes.social_orgs, tables.org_weight))):
        wsum = sum(weights)
        for ri, w in enumerate(weights):
            total += count * w / wsum * tables.rate(k * n_rc + tables.region_class[ri])
    return total


def intensity_for(policy: Policy, sizes: Sizes, records: int, start: date, end: date) -> float:
    """The factor on every category's rate that makes about ``records`` records."""
    base = expected_records(build(policy, start, end), sizes)
    return records / base if base > 0 else 1.0


def generate_columnar(policy: Policy, out: Path, *, seed: int, sizes: Sizes,
                      start: date = date(2019, 1, 1), end: date = date(2025, 12, 31),
                      intensity: float = 1.0, chunk_records: int = 4_000_000,
                      memory_limit: str = "4GB", progress: Progress | None = None,
                      ) -> dict[str, Any]:
    """Write a partitioned population to ``out`` (a folder per table, part files, and
    ``manifest.json``); return the manifest."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if min(sizes.persons, sizes.firms, sizes.public_bodies, sizes.social_orgs) < 0:
        raise ValueError("sizes cannot be negative")
    if sizes.persons == 0 and sizes.organisations > 0:
        raise ValueError("organisations need at least one person as legal representative")
    tables = build(policy, start, end, shape.DISTRIBUTIONS, intensity)
    per_subject = max(expected_records(tables, sizes) / max(1, sizes.persons
                                                            + sizes.organisations), 0.05)
    chunk = max(10_000, min(4_000_000, int(chunk_records / per_subject)))
    chunk = max(chunk, math.ceil(sizes.persons / 500))  # at most 500 person chunks (RIC seqs)
    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    for t in TABLES:
        (staging / t).mkdir(parents=True)
    con = duckdb.connect(str(staging / "work.duckdb"))
    try:
        con.execute(f"SET memory_limit='{memory_limit}'")
        con.execute(f"SET temp_directory='{staging / 'spill'}'")
        con.execute("SET preserve_insertion_order=true")
        sql = Sql(con, tables, seed, sizes, start, end)
        written = Written()
        try:
            for what, n in _run(con, sql, staging, sizes, chunk, written):
                written.drain(keep=5)  # at most a chunk's parts in memory, waiting
                if progress is not None:
                    progress(what, n)
            written.drain()
        finally:
            written.writer.shutdown(wait=True)
    except BaseException:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)  # a failed run leaves nothing behind
        raise
    con.close()
    (staging / "work.duckdb").unlink()
    shutil.rmtree(staging / "spill", ignore_errors=True)
    manifest = {
        "format_version": FORMAT_VERSION,
        "layout": "partitioned",
        "generator": "xinyong.sim.columnar",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "sizes": {"persons": sizes.persons, "firms": sizes.firms,
                  "public_bodies": sizes.public_bodies, "social_orgs": sizes.social_orgs},
        "intensity": intensity,
        "policy_digest": policy.digest,
        "counts": written.counts,
        "files": written.files,
    }
    (staging / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return manifest


def _chunks(n: int, size: int) -> Iterator[tuple[int, int, int]]:
    for g, lo in enumerate(range(0, n, size)):
        yield g, lo, min(n, lo + size)


def _copy(con: duckdb.DuckDBPyConnection, query: str, staging: Path, table: str,
          written: Written) -> None:
    """Fetch ``query`` and hand it to the writer thread, which writes while DuckDB goes on
    with the next query (pyarrow releases the GIL); parts keep their order."""
    part = f"part-{sum(1 for k in written.files if k.startswith(table + '/')):05d}.parquet"
    data = con.sql(query).to_arrow_table()
    n = data.num_rows
    if n == 0:
        return
    written.counts[table] += n
    entry: dict[str, Any] = {"rows": n}
    written.files[f"{table}/{part}"] = entry
    written.pending.append(written.writer.submit(_write, data, staging / table / part,
                                                 table, entry))


def _write(data: pa.Table, path: Path, table: str, entry: dict[str, Any]) -> None:
    # pyarrow writes the file, cast to the schema sim/parquet.py declares (DuckDB would
    # write its own list item names and NOT NULL flags); one writer, so the same bytes;
    # dictionaries only where values repeat (ids and numbers would only cost time)
    pq.write_table(data.cast(SCHEMAS[table]), path, compression="zstd", compression_level=1,
                   row_group_size=500_000,
                   use_dictionary=[c for c in data.column_names if c in _REPEATING])
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    entry["bytes"] = path.stat().st_size
    entry["sha256"] = digest.hexdigest()


def _run(con: duckdb.DuckDBPyConnection, sql: Sql, staging: Path, sizes: Sizes, chunk: int,
         written: Written) -> Iterator[tuple[str, int]]:
    groups = math.ceil(sizes.persons / chunk) if sizes.persons else 0
    for g, lo, hi in _chunks(sizes.persons, chunk):
        sql.persons_chunk(g, groups, lo, hi)
        yield from _subject_chunk(con, sql, staging, written, "persons", hi - lo, None)
    for _, lo, hi in _chunks(sizes.organisations, chunk):
        sql.orgs_chunk(lo, hi)
        yield from _subject_chunk(con, sql, staging, written, "organisations", hi - lo,
                                  (lo, hi))


def _subject_chunk(con: duckdb.DuckDBPyConnection, sql: Sql, staging: Path, written: Written,
                   what: str, n: int, orgs: tuple[int, int] | None) -> Iterator[tuple[str, int]]:
    _copy(con, "SELECT id, kind, name, region, identifiers, registered, opt_ins "
          "FROM chunk_subjects ORDER BY pos", staging, "subjects", written)
    _copy(con, "SELECT id AS subject, urban, digital_access FROM chunk_subjects ORDER BY pos",
          staging, "attributes", written)
    if orgs is not None:
        _copy(con, sql.links(*orgs), staging, "links", written)
    sql.records_chunk(sql.next_record)
    _copy(con, "SELECT id, subject, category, agency, act_date, effective, document_no, "
          "legal_basis, recorded_at, amounts, channel FROM chunk_records ORDER BY n",
          staging, "records", written)
    _copy(con, sql.events(written.counts["events"]), staging, "events", written)
    yield what, n


__all__ = ["GENERATOR_VERSION", "KINDS", "LEVELS", "Sizes", "expected_records",
           "generate_columnar", "intensity_for"]
