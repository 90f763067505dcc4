"""A population checked before anything is rated, by the rules of :mod:`xinyong.checks`
(catalog categories, competent agencies, subject kinds, declared amounts, valid identifiers,
known subjects and records), streamed: DuckDB reads the Parquet lazily, joins what needs a
join, and hands rows over in Arrow batches, so a population larger than memory is checked in
bounded memory. Every bad row is reported with its file and row number (its table and key for
the ledger)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlglot.expressions as exp

from xinyong.batch.engines import DuckDBEngine
from xinyong.batch.sources import Inputs, Location
from xinyong.checks import RowProblem
from xinyong.ids import InvalidIdentifier
from xinyong.policy.model import Policy

BATCH = 65_536
SHOWN = 1000
"""Problems kept for the report; the rest are counted."""


class InvalidPopulation(ValueError):
    def __init__(self, problems: list[RowProblem], total: int, source: str):
        self.problems, self.total, self.source = problems, total, source
        more = f" ({len(problems)} shown)" if total > len(problems) else ""
        super().__init__(f"{total} bad row(s) in {source}{more}; nothing was rated")


def _view(con: Any, name: str, loc: Location) -> None:
    glob = str(loc.path / "**" / "*.parquet") if loc.path.is_dir() else str(loc.path)
    con.read_parquet(glob, hive_partitioning=loc.hive, filename=True,
                     file_row_number=True).create_view(name, replace=True)


def _batches(con: Any, query: exp.Expr) -> Iterator[dict[str, Any]]:
    reader = con.sql(query.sql(dialect="duckdb")).to_arrow_reader(BATCH)
    for batch in reader:
        yield from batch.to_pylist()


def _col(name: str, table: str) -> exp.Column:
    return exp.column(name, table)


class _Report:
    def __init__(self, inputs: Inputs):
        self.inputs, self.total = inputs, 0
        self.rows: list[tuple[int, str, int, RowProblem]] = []

    @property
    def kept(self) -> list[RowProblem]:
        """In table, file and row order (rows arrive in any order: joins do not keep it)."""
        return [p for *_, p in sorted(self.rows, key=lambda x: x[:3])]

    def add(self, table: str, row: dict[str, Any], key: str, field: str, reason: str) -> None:
        self.total += 1
        if len(self.rows) < SHOWN:
            file = row.get("filename") if self.inputs.kind != "ledger" else None
            where = Path(file).name if file and self.inputs.tables[table].path.is_file() \
                else (file or self.inputs.name_of(table))
            n = int(row.get("file_row_number", -1)) + 1
            order = ("subjects", "links", "records", "events").index(table)
            self.rows.append((order, str(where), n, RowProblem(str(where), n, key, field,
                                                                reason)))


def validate(policy: Policy, inputs: Inputs, memory_limit: str,
             temp_dir: Path | None = None) -> None:
    """Raise :class:`InvalidPopulation` listing the bad rows; return when there are none."""
    engine = DuckDBEngine(memory_limit, temp_dir)
    report = _Report(inputs)

    def run() -> None:
        con = engine.con
        for name in ("subjects", "links", "records", "events"):
            _view(con, f"v_{name}", inputs.tables[name])
        _subjects(con, policy, report)
        _links(con, report)
        _records(con, policy, report)
        _events(con, report)

    try:
        engine.guard(run)
    finally:
        engine.close()
    if report.total:
        raise InvalidPopulation(report.kept, report.total,
                                str(inputs.description.get("path")
                                    or inputs.description.get("database")))


def _subjects(con: Any, policy: Policy, report: _Report) -> None:
    q = exp.select("filename", "file_row_number", "id", "identifiers").from_("v_subjects")
    for row in _batches(con, q):
        for ident in row["identifiers"] or ():
            try:
                policy.identifier(ident["scheme"], ident["value"])
            except InvalidIdentifier as bad:
                report.add("subjects", row, row["id"], "identifiers", str(bad))


def _unknown(table: str, column: str, target: str, target_key: str) -> exp.Select:
    """Rows of ``table`` whose ``column`` names no row of ``target``."""
    return exp.select("x.*").from_(exp.alias_(exp.to_table(table), "x")).join(
        exp.alias_(exp.to_table(target), "y"),
        on=exp.EQ(this=_col(column, "x"), expression=_col(target_key, "y")),
        join_type="LEFT ANTI").order_by("x.filename", "x.file_row_number")


def _links(con: Any, report: _Report) -> None:
    for side in ("organisation", "party"):
        for row in _batches(con, _unknown("v_links", side, "v_subjects", "id")):
            report.add("links", row, f"{row['organisation']}/{row['party']}",
                       "organisation/party", f"unknown subject {row[side]!r}")


def _records(con: Any, policy: Policy, report: _Report) -> None:
    q = exp.select("r.filename", "r.file_row_number", "r.id", "r.subject", "r.category",
                   "r.agency", "r.effective", "r.document_no", "r.legal_basis", "r.amounts",
                   exp.alias_(_col("kind", "s"), "subject_kind")).from_(
        exp.alias_(exp.to_table("v_records"), "r")).join(
        exp.alias_(exp.to_table("v_subjects"), "s"),
        on=exp.EQ(this=_col("subject", "r"), expression=_col("id", "s")), join_type="LEFT")
    catalog: dict[tuple[str, date], Any] = {}
    sensitive: dict[str, bool] = {}  # the data-class search is slow: once per amount name
    for row in _batches(con, q):
        rid, t = row["id"], "records"
        key = (row["category"], row["effective"])
        if key not in catalog:
            catalog[key] = policy.at(row["effective"]).categories.get(row["category"])
        cat, kind = catalog[key], row["subject_kind"]
        if kind is None:
            report.add(t, row, rid, "subject", f"unknown subject {row['subject']!r}")
        if cat is None:
            report.add(t, row, rid, "category",
                       f"{row['category']!r} is not in the catalog on {row['effective']}; "
                       "only catalog categories may be recorded")
            continue
        if kind is not None and kind not in cat.subject_kinds:
            report.add(t, row, rid, "subject", f"{row['category']} applies to "
                       f"{', '.join(cat.subject_kinds)}, not to a {kind}")
        if row["agency"] not in cat.agencies:
            report.add(t, row, rid, "agency", f"{row['agency']!r} may not submit "
                       f"{row['category']} (competent: {', '.join(cat.agencies)})")
        try:
            amounts = json.loads(row["amounts"] or "{}")
        except ValueError:
            report.add(t, row, rid, "amounts", "not a JSON object of decimal strings")
            amounts = {}
        for name, value in amounts.items():
            if name not in sensitive:
                sensitive[name] = bool(policy.sensitive.find(name))
            if name not in cat.amounts or sensitive[name]:
                report.add(t, row, rid, f"amounts.{name}", f"not an amount of {row['category']}")
                continue
            try:
                negative = Decimal(str(value)) < 0
            except InvalidOperation:
                report.add(t, row, rid, f"amounts.{name}", f"{value!r} is not a decimal")
                continue
            if negative:
                report.add(t, row, rid, f"amounts.{name}", "negative amount")
        if not row["document_no"] or not row["legal_basis"]:
            report.add(t, row, rid, "document_no/legal_basis",
                       "a record needs the agency's document number and legal basis")


def _events(con: Any, report: _Report) -> None:
    for row in _batches(con, _unknown("v_events", "record", "v_records", "id")):
        report.add("events", row, row["id"], "record", f"unknown record {row['record']!r}")
