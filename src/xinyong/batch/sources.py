"""Where a batch run reads its population: a population folder (one Parquet file per table,
as ``xinyong sim generate`` writes it, with its manifest), a partitioned dataset (a folder per
table of many Parquet files, hive partitions allowed), or the ledger (one consistent snapshot
exported to temporary Parquet files, see :mod:`xinyong.batch.ledger`).

A source is a set of Parquet locations by table, read lazily by the engine; nothing here loads
a table into Python."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from xinyong.sim.parquet import SCHEMAS

TABLES = ("subjects", "links", "records", "events")
"""The input tables every plan may read (``docs/batch.md``: Inputs)."""
OPTIONAL = ("confirmed",)
"""Read when present: the reviewers' confirmations (due process), key VARCHAR."""


class BadSource(ValueError):
    """The source cannot be read as a population: the message names the file and the fix."""


@dataclass(frozen=True)
class Location:
    path: Path
    """A Parquet file, or a folder of Parquet files (searched recursively)."""
    hive: bool = False
    """The folder's subfolders are hive partitions (``column=value``)."""


@dataclass
class Inputs:
    """The Parquet locations of the input tables, and what the manifest says of the source."""

    tables: dict[str, Location]
    kind: str
    """population | dataset | ledger"""
    description: dict[str, Any] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    """Table -> how a message names it (a file, a folder, a ledger table)."""

    def name_of(self, table: str) -> str:
        return self.where.get(table, table)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rows(location: Location) -> int:
    files = [location.path] if location.path.is_file() else sorted(
        location.path.rglob("*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def open_folder(directory: Path) -> Inputs:
    """A population folder, or a partitioned dataset (a folder per table), or a mix: each
    table is ``TABLE.parquet`` or a folder ``TABLE/`` of Parquet files."""
    if not directory.is_dir():
        raise BadSource(f"--data {directory}: no such folder; write a population with "
                        f"`xinyong sim generate --out {directory}`")
    tables: dict[str, Location] = {}
    where: dict[str, str] = {}
    missing = []
    for name in (*TABLES, *OPTIONAL):
        file, folder = directory / f"{name}.parquet", directory / name
        if file.is_file():
            tables[name], where[name] = Location(file), str(file)
        elif folder.is_dir():
            parts = sorted(folder.rglob("*.parquet"))
            if not parts:
                raise BadSource(f"{folder}: a table folder without any .parquet file")
            hive = any("=" in p.relative_to(folder).parts[0] for p in parts
                       if len(p.relative_to(folder).parts) > 1)
            tables[name], where[name] = Location(folder, hive), f"{folder}/"
        elif name in TABLES:
            missing.append(name)
    if missing:
        raise BadSource(f"{directory}: no {', '.join(f'{m}.parquet (or {m}/)' for m in missing)}"
                        "; write a population with `xinyong sim generate --out DIR`")
    partitioned = any(loc.path.is_dir() for loc in tables.values())
    manifest = _manifest(directory, tables)
    return Inputs(tables, "dataset" if partitioned else "population",
                  {"kind": "dataset" if partitioned else "population", "path": str(directory),
                   **({"manifest": manifest} if manifest else {})}, where)


def _manifest(directory: Path, tables: Mapping[str, Location]) -> dict[str, Any] | None:
    """The folder's manifest.json, checked against the files: counts (from the Parquet
    metadata, cheap) and, for single files, SHA-256 digests."""
    path = directory / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BadSource(f"{path}: not readable JSON ({e}); regenerate the population") from None
    for name, want in manifest.get("counts", {}).items():
        loc = tables.get(name)
        if loc is None:
            continue
        have = _rows(loc)
        if have != want:
            raise BadSource(f"{loc.path}: {have} {name} rows but manifest.json says {want}; "
                            "the folder was changed after it was written: regenerate it")
    for file, digest in manifest.get("sha256", {}).items():
        f = directory / file
        if f.is_file() and _sha256(f) != digest:
            raise BadSource(f"{f}: content differs from manifest.json (sha256); the file was "
                            "changed after it was written: regenerate the population")
    keep = ("format_version", "generator", "generator_version", "seed", "start", "end",
            "policy_digest", "counts")
    return {k: manifest[k] for k in keep if k in manifest}


def schema_of(table: str) -> Any:
    """The Arrow schema an input table has (``xinyong.sim.parquet.SCHEMAS``)."""
    if table == "confirmed":
        import pyarrow as pa

        return pa.schema([("key", pa.string())])
    return SCHEMAS[table]
