"""The batch runner's engines and sources: the same plan on DuckDB and on Spark (local[2]) gives
the same rows, row for row; types (DECIMAL, DATE, lists, JSON amounts) round-trip identically;
a partitioned dataset and a ledger snapshot rate as the population folder and the per-subject
engine do; a memory limit hit is a named error and nothing is written."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot.expressions as exp

from xinyong.batch import (
    DuckDBEngine,
    EngineLimit,
    RefusedPopulation,
    SparkEngine,
    open_folder,
    rate,
    run_plan,
    validate,
)
from xinyong.batch.run import register
from xinyong.dataset import Dataset
from xinyong.engine.batch import compile_plan
from xinyong.engine.batch.sql import after, json_amount
from xinyong.files import load_policy
from xinyong.model import EventKind, RecordEvent
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.sim.parquet import SCHEMAS, write_population
from xinyong.sim.population import Population, generate
from xinyong.standings import standings

POINTS = ("fuzhou.credit_score", "suqian.xichu_points", "suzhou.osmanthus_points",
          "xiamen.credit_score")
AS_OF = date(2025, 12, 31)
DATES = (date(2021, 12, 16), AS_OF)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One Spark session (local[2]) for every test of the module: starting one takes seconds."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI") == "true":
            pytest.fail("no java: CI must run the Spark tests (.ci/run installs Java 17)")
        pytest.skip("Spark needs Java 17 (no `java` on PATH): install openjdk-17-jre-headless")
    from xinyong.batch.engines import spark_session

    session = spark_session("local[2]", shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _with_amounts(pop: Population, policy: Policy) -> Population:
    """The generated population with records on month ends and leap days (calendar
    arithmetic), revocations, and amounts of many digits (exact decimals)."""
    template = pop.records[0]
    scheme = policy.at(AS_OF).schemes["suzhou.osmanthus_points"]
    person = next(s for s in pop.subjects if s.kind in scheme.subject_kinds
                  and s.region.startswith(scheme.regions))
    cat = sorted({c for i in scheme.indicator for c in i.categories})[0]
    category = policy.at(AS_OF).categories[cat]
    amounts = {f: Decimal("123456789012.345678") for f in list(category.amounts)[:1]}
    days = [date(2024, 2, 29), date(2023, 1, 31), date(2025, 8, 31), date(2025, 12, 31),
            date(2021, 12, 16), date(2020, 2, 29)]
    records = [dataclasses.replace(template, id=f"AM{n}", subject=person.id, category=cat,
                                   agency=category.agencies[0], amounts=amounts,
                                   act_date=d, effective=d,
                                   recorded_at=datetime.combine(d, time(23, 59, 59)))
               for n, d in enumerate(days)]
    events = [RecordEvent("AMX", "AM1", EventKind.REVOKED, date(2025, 3, 1),
                          datetime.combine(date(2025, 3, 1), time(0, 0)))]
    kept = tuple(e for e in pop.events
                 if e.kind not in (EventKind.CORRECTED, EventKind.REPAIRED))
    return dataclasses.replace(pop, records=(*pop.records, *records),
                               events=(*kept, *events))


@pytest.fixture(scope="module")
def population(policy: Policy) -> Population:
    return _with_amounts(generate(policy, seed=7, persons=250, enterprises=50), policy)


@pytest.fixture(scope="module")
def folder(population: Population, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop")
    write_population(population, out)
    return out


def _engine_ratings(population: Population, policy: Policy, as_of: date) -> dict[Any, Any]:
    data = Dataset(population.subjects, population.links, population.records,
                   population.events)
    return {(sid, scheme): (r.score, r.grade)
            for sid, st in standings(data, policy, population.subjects, as_of).items()
            for scheme, r in st.ratings.items() if scheme in POINTS}


def _pairs(table: pa.Table) -> dict[Any, Any]:
    return {(r["subject"], r["scheme"]): (Decimal(r["score"]), r["grade"])
            for r in table.to_pylist()}


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_duckdb_and_spark_write_the_same_rows(policy: Policy, population: Population,
                                              folder: Path, spark: Any, tmp_path: Path,
                                              as_of: date) -> None:
    plan = compile_plan(policy, as_of, schemes=POINTS, outputs=("ratings",))
    inputs = open_folder(folder)
    written = {}
    for name, engine in (("duckdb", DuckDBEngine()), ("spark", SparkEngine(session=spark))):
        run = run_plan(plan, inputs, engine, tmp_path / name)
        assert run.manifest["engine"] == name
        written[name] = pq.read_table(tmp_path / name / "ratings.parquet")
    duck, sp = written["duckdb"], written["spark"]
    assert duck.to_pylist() == sp.to_pylist()  # row for row, in the contract's order
    assert duck.schema.field("score").type == sp.schema.field("score").type == \
        pa.decimal128(38, 6)
    # and both are the per-subject engine's ratings, on a comparison that is not empty
    assert _pairs(duck) == _engine_ratings(population, policy, as_of)
    assert len({s for _, s in _pairs(duck)}) == len(POINTS)


def test_types_round_trip_identically(population: Population, folder: Path,
                                      spark: Any) -> None:
    """DECIMAL arithmetic, DATE arithmetic (month ends, leap days), list columns and JSON
    amounts read the same on both engines, from the same SQLGlot expression."""
    r, s = "r", "s"
    field = next(k for rec in population.records for k in rec.amounts)
    amounts = exp.column("amounts", r)
    query = exp.select(
        exp.alias_(exp.column("id", r), "id"),
        exp.alias_(exp.column("effective", r), "effective"),
        exp.alias_(after(exp.column("effective", r), Period(months=1)), "plus_month"),
        exp.alias_(after(exp.column("effective", r), Period(years=1, days=1)), "plus_year"),
        exp.alias_(exp.column("recorded_at", r), "recorded_at"),
        exp.alias_(json_amount(amounts, field), "amount"),
        exp.alias_(exp.Mul(this=exp.Coalesce(this=json_amount(amounts, field),
                                             expressions=[exp.cast(exp.Literal.number(0),
                                                                   "DECIMAL(38, 6)")]),
                           expression=exp.cast(exp.Literal.string("1.5"), "DECIMAL(38, 6)")),
                   "amount_x"),
        exp.alias_(exp.column("identifiers", s), "identifiers"),
        exp.alias_(exp.column("opt_ins", s), "opt_ins"),
    ).from_(exp.alias_(exp.to_table("records"), r)).join(
        exp.alias_(exp.to_table("subjects"), s),
        on=exp.EQ(this=exp.column("subject", r), expression=exp.column("id", s))).order_by(
        exp.column("id", r))
    plan = compile_plan(load_policy(), AS_OF, schemes=POINTS[:1], outputs=("ratings",))
    inputs = open_folder(folder)
    rows = []
    for engine in (DuckDBEngine(), SparkEngine(session=spark)):
        register(engine, inputs, plan)
        rows.append(engine.to_arrow(query).to_pylist())
    duck, sp = rows
    assert duck == sp
    by_id = {x["id"]: x for x in duck}
    assert by_id["AM0"]["plus_month"] == date(2024, 3, 29)    # 2024-02-29 + P1M
    assert by_id["AM1"]["plus_month"] == date(2023, 2, 28)    # clamped to the month's end
    assert by_id["AM0"]["plus_year"] == date(2025, 3, 1)      # 2025-02-28, then one day
    assert by_id["AM3"]["recorded_at"] == datetime(2025, 12, 31, 23, 59, 59)  # not shifted
    assert any(x["identifiers"] for x in duck) and any(x["amount"] is not None for x in duck)
    sample = next(x for x in duck if x["amount"] is not None)
    assert sample["amount_x"] == sample["amount"] * Decimal("1.5")


def _partition(folder: Path, into: Path) -> None:
    """The population as a partitioned dataset: records in several part files, events hive
    partitioned by kind, the rest one file each in their own folder."""
    for name in ("subjects", "links"):
        (into / name).mkdir(parents=True)
        shutil.copy(folder / f"{name}.parquet", into / name / "part-0.parquet")
    records = pq.read_table(folder / "records.parquet")
    (into / "records").mkdir()
    step = max(records.num_rows // 5, 1)
    for n, start in enumerate(range(0, records.num_rows, step)):
        pq.write_table(records.slice(start, step), into / "records" / f"part-{n:03d}.parquet")
    events = pq.read_table(folder / "events.parquet")
    for kind in sorted(set(events.column("kind").to_pylist())):
        part = into / "events" / f"kind={kind}"
        part.mkdir(parents=True)
        pq.write_table(events.filter(pa.compute.equal(events.column("kind"), kind))
                       .drop_columns(["kind"]), part / "part-0.parquet")


def test_a_partitioned_dataset_rates_as_the_folder(policy: Policy, folder: Path, spark: Any,
                                                   tmp_path: Path) -> None:
    _partition(folder, tmp_path / "ds")
    inputs = open_folder(tmp_path / "ds")
    assert inputs.kind == "dataset" and inputs.tables["events"].hive
    assert len(list((tmp_path / "ds" / "records").glob("part-*.parquet"))) >= 5
    want = rate(policy, folder, AS_OF, POINTS).to_pylist()
    assert rate(policy, tmp_path / "ds", AS_OF, POINTS).to_pylist() == want
    assert rate(policy, tmp_path / "ds", AS_OF, POINTS,
                engine=SparkEngine(session=spark)).to_pylist() == want


def test_a_refusal_names_the_file_and_the_row_on_spark(policy: Policy, population: Population,
                                                        spark: Any, tmp_path: Path) -> None:
    """A performance (rectified) dated before the working-day calendar's first day (1 Jan
    1950) cannot start the 3 working days of the court list's removal: both engines refuse
    the run, naming the events file, the event, its record and its date, and write nothing."""
    record = next(r for r in population.records
                  if r.category == "judicial.debtor.refuses_to_perform")
    early = date(1949, 12, 31)
    done = RecordEvent("BR1", record.id, EventKind.RECTIFIED, early,
                       datetime.combine(date(2020, 1, 2), time(9, 0)))
    write_population(dataclasses.replace(population, events=(*population.events, done)),
                     tmp_path / "pop")
    plan = compile_plan(policy, AS_OF, lists=["spc.dishonest_debtors"], outputs=("entries",))
    for n, engine in enumerate((DuckDBEngine(), SparkEngine(session=spark))):
        with pytest.raises(RefusedPopulation) as e:
            run_plan(plan, open_folder(tmp_path / "pop"), engine, tmp_path / f"out{n}")
        assert str(e.value).startswith(
            f"{tmp_path / 'pop'}/events.parquet: event BR1 (rectified on 1949-12-31, record "
            f"{record.id}) is dated before the working-day calendar's first day, 1950-01-01")
        assert not (tmp_path / f"out{n}").exists()


def test_a_memory_limit_hit_is_named_and_nothing_is_written(policy: Policy, folder: Path,
                                                            tmp_path: Path) -> None:
    plan = compile_plan(policy, AS_OF, schemes=POINTS, outputs=("ratings",))
    with pytest.raises(EngineLimit) as e:
        run_plan(plan, open_folder(folder), DuckDBEngine("2MB", tmp_path / "spill"),
                 tmp_path / "out")
    assert "--memory-limit 2MB" in str(e.value) and "raise --memory-limit" in str(e.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


# --- the ledger as a source ----------------------------------------------------------------


T0 = datetime(2019, 1, 1, 8)


def _fill(url: str, pop: Population) -> Population:
    """Write the population to a fresh ledger at T0 (everything recorded then), and one more
    record after the as-of day, which known-at leaves out. The population as the ledger has
    it (recorded_at T0) is returned, for the per-subject engine."""
    from xinyong.ledger.batch import Batch
    from xinyong.ledger.store import Ledger

    ledger = Ledger.open(url)
    try:
        ledger.write(Batch(list(pop.subjects), list(pop.links), list(pop.records),
                           list(pop.events)), at=T0)
        late = dataclasses.replace(pop.records[-1], id="LATE1")
        ledger.write(Batch(records=[late]), at=datetime.combine(AS_OF + timedelta(days=3),
                                                                 time(9)))
    finally:
        ledger.dispose()
    return dataclasses.replace(
        pop, records=tuple(dataclasses.replace(r, recorded_at=T0) for r in pop.records),
        events=tuple(dataclasses.replace(e, recorded_at=T0) for e in pop.events),
        links=tuple(dataclasses.replace(lk, recorded_at=T0) for lk in pop.links))


def test_the_ledger_snapshot_rates_as_the_engine(policy: Policy, population: Population,
                                                 ledger_url: str, spark: Any,
                                                 tmp_path: Path) -> None:
    from xinyong.batch.job import Job, execute

    stored = _fill(ledger_url, population)
    for name in ("duckdb", "spark"):
        job = Job(policy, AS_OF, tmp_path / name, database=ledger_url, engine=name,
                  schemes=POINTS, outputs=["ratings"], session=spark)
        run = execute(job)
        source = run.manifest["source"]
        assert source["kind"] == "ledger" and source["counts"]["records"] == \
            len(population.records) + 1
        assert "postgres:" not in source["database"] or "***" in source["database"]
    duck = pq.read_table(tmp_path / "duckdb" / "ratings.parquet")
    assert duck.to_pylist() == pq.read_table(tmp_path / "spark" / "ratings.parquet").to_pylist()
    assert _pairs(duck) == _engine_ratings(stored, policy, AS_OF)
    assert not any(p.name.startswith("xinyong-ledger-") for p in tmp_path.iterdir())


def test_the_ledger_export_keeps_the_schemas(population: Population, tmp_path: Path) -> None:
    from xinyong.batch.snapshot import export

    url = f"sqlite:///{tmp_path}/ledger.db"
    _fill(url, population)
    inputs = export(url, datetime.combine(AS_OF, time.max), tmp_path)
    for name, schema in SCHEMAS.items():
        if name in inputs.tables:
            assert pq.read_schema(inputs.tables[name].path) == schema
    subjects = pq.read_table(inputs.tables["subjects"].path).to_pylist()
    want = {s.id: sorted((i.scheme.value, i.value) for i in s.identifiers)
            for s in population.subjects}
    assert {s["id"]: sorted((i["scheme"], i["value"]) for i in s["identifiers"])
            for s in subjects} == want
    assert pq.read_table(inputs.tables["confirmed"].path).num_rows == 0


def test_the_export_is_one_snapshot(population: Population, ledger_url: str,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record written while the export runs (after the subjects are read, before the
    records are) is not in the export: every table is read in one transaction."""
    from xinyong.batch import snapshot
    from xinyong.ledger.batch import Batch
    from xinyong.ledger.store import Ledger

    _fill(ledger_url, population)
    write = snapshot._write

    def write_then_interfere(path: Path, table: str, chunks: Any) -> int:
        n = write(path, table, chunks)
        if table == "subjects":
            ledger = Ledger.open(ledger_url)
            try:
                ledger.write(Batch(records=[dataclasses.replace(population.records[0],
                                                                id="DURING1")]),
                             at=datetime(2020, 1, 1, 9))
            finally:
                ledger.dispose()
        return n

    monkeypatch.setattr(snapshot, "_write", write_then_interfere)
    inputs = snapshot.export(ledger_url, datetime.combine(AS_OF, time.max), tmp_path)
    ids = pq.read_table(inputs.tables["records"].path).column("id").to_pylist()
    assert "DURING1" not in ids and len(ids) == len(population.records) + 1  # + LATE1
    # written for real: a second export sees it
    monkeypatch.undo()
    (tmp_path / "2").mkdir()
    again = snapshot.export(ledger_url, datetime.combine(AS_OF, time.max), tmp_path / "2")
    assert "DURING1" in pq.read_table(again.tables["records"].path).column("id").to_pylist()


def test_a_dataset_larger_than_the_memory_limit_is_rated(policy: Policy, tmp_path: Path) -> None:
    """300 copies of a generated population's records (600,000 rows, over 100 MB in memory)
    in 300 part files, rated under a 96 MB limit: read lazily, spilled to the temp folder,
    the same ratings as without a limit."""
    pop = generate(policy, seed=3, persons=2000, enterprises=300)
    write_population(pop, tmp_path / "pop")
    ds = tmp_path / "ds"
    for name in ("subjects", "links", "events"):
        (ds / name).mkdir(parents=True)
        shutil.copy(tmp_path / "pop" / f"{name}.parquet", ds / name / "part-0.parquet")
    records = pq.read_table(tmp_path / "pop" / "records.parquet")
    (ds / "records").mkdir()
    for k in range(300):  # copy k of every record is another record of the same subject
        ids = pa.compute.binary_join_element_wise(records.column("id"), pa.scalar(f"~{k}"), "")
        pq.write_table(records if k == 0 else records.set_column(0, "id", ids),
                       ds / "records" / f"part-{k:03d}.parquet")
    assert records.nbytes * 300 > 100 * 2**20
    inputs = open_folder(ds)
    validate(policy, inputs, "96MB", tmp_path / "spill")
    plan = compile_plan(policy, AS_OF, schemes=POINTS, outputs=("ratings",))
    run = run_plan(plan, inputs, DuckDBEngine("96MB", tmp_path / "spill", threads=1),
                   tmp_path / "out")
    limited = pq.read_table(tmp_path / "out" / "ratings.parquet")
    assert run.manifest["rows"]["ratings"] == limited.num_rows > 0
    assert limited.to_pylist() == rate(policy, ds, AS_OF, POINTS).to_pylist()


def test_the_command_runs_on_spark(policy: Policy, folder: Path, spark: Any,
                                   tmp_path: Path) -> None:
    """`xinyong rate --engine spark` (in the session running here, which it leaves running):
    the same files as --engine duckdb, and the manifest names the engine and its master."""
    import json

    from typer.testing import CliRunner

    from xinyong.cli import app
    from xinyong.files import default_policy_dir

    base = ["rate", "--policies", str(default_policy_dir()), "--data", str(folder),
            "--as-of", "2025-12-31", "--presets", "suzhou", "--output", "ratings"]
    for name in ("duckdb", "spark"):
        r = CliRunner().invoke(app, [*base, "--engine", name, "--out", str(tmp_path / name)],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.output
    duck = pq.read_table(tmp_path / "duckdb" / "ratings.parquet").to_pylist()
    assert duck == pq.read_table(tmp_path / "spark" / "ratings.parquet").to_pylist()
    assert {x["scheme"] for x in duck} == {"suzhou.osmanthus_points"}  # the preset's scheme
    manifest = json.loads((tmp_path / "spark" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == "spark" and manifest["engine_detail"]["master"] == "local[2]"
    assert manifest["schemes"] == ["suzhou.osmanthus_points"]
    assert spark.sparkContext._jsc is not None  # still running for the other tests


def test_a_plans_small_tables_read_the_same_on_both_engines(folder: Path, spark: Any) -> None:
    """Plan.tables (a calendar, bindings) registered from literal rows, typed as declared;
    an empty one too; and a folder without confirmations reads an empty ``confirmed``."""
    from xinyong.batch.run import table_query
    from xinyong.engine.batch.plan import Table

    days = Table((("day", "DATE"), ("working", "BOOLEAN"), ("n", "BIGINT"),
                  ("note", "VARCHAR")),
                 ((date(2024, 2, 29), True, 1, "leap"), (date(2025, 12, 31), False, 2, None)))
    empty = Table((("key", "VARCHAR"), ("since", "DATE")), ())
    q = exp.select("*").from_("days").order_by("day")
    for engine in (DuckDBEngine(), SparkEngine(session=spark)):
        engine.register_query("days", table_query(days))
        engine.register_query("nothing", table_query(empty))
        assert engine.to_arrow(q).to_pylist() == [
            {"day": date(2024, 2, 29), "working": True, "n": 1, "note": "leap"},
            {"day": date(2025, 12, 31), "working": False, "n": 2, "note": None}]
        assert engine.first_row(exp.select("*").from_("nothing")) is None
        plan = compile_plan(load_policy(), AS_OF, schemes=POINTS[:1], outputs=("ratings",))
        register(engine, open_folder(folder), plan)
        assert engine.first_row(exp.select("*").from_("confirmed")) is None
