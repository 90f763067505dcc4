"""`xinyong rate`: outputs and manifest, the summary, exit codes, --overwrite, every bad row of
an invalid population listed before anything is rated, the ledger as a source, a memory
limit hit said plainly (moved here from test_batch_points.py, and extended)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from xinyong.batch import open_folder, rate, validate
from xinyong.batch.validate import InvalidPopulation
from xinyong.checks import check_population
from xinyong.cli import app
from xinyong.files import default_policy_dir, load_policy
from xinyong.model import EventKind, RecordEvent
from xinyong.policy.model import Policy
from xinyong.sim.parquet import write_population
from xinyong.sim.population import Population, generate

POINTS = ("fuzhou.credit_score", "suqian.xichu_points", "suzhou.osmanthus_points",
          "xiamen.credit_score")
AS_OF = date(2025, 12, 31)
POLICIES = str(default_policy_dir())


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def population(shipped: Policy) -> Population:
    pop = generate(shipped, seed=12, persons=300, enterprises=60)
    # corrections and repairs are refused by the compiler today (test below): left out here
    return dataclasses.replace(pop, events=tuple(
        e for e in pop.events if e.kind not in (EventKind.CORRECTED, EventKind.REPAIRED)))


@pytest.fixture(scope="module")
def folder(population: Population, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop")
    write_population(population, out)
    return out


def _rate(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["rate", "--policies", POLICIES, *args],
                           catch_exceptions=False)
    return r.exit_code, " ".join(r.output.split())


def _table_rows(output: str) -> list[list[str]]:
    """The cells of every body row of the tables printed (rich's box characters)."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines()
            if line.startswith("│")]


def _schemes() -> list[str]:
    """The points schemes, ratings only: the command's tests are of the command, and the
    outputs' semantics are tested in test_batch_*; every output is written below."""
    return [*(a for s in POINTS for a in ("--scheme", s)), "--output", "ratings"]


def test_the_rate_command_writes_ratings_and_a_manifest(shipped: Policy, folder: Path,
                                                       tmp_path: Path) -> None:
    args = ["--data", str(folder), "--as-of", "2025-12-31", *_schemes()]
    r = CliRunner().invoke(app, ["rate", "--policies", POLICIES, *args, "--out",
                                 str(tmp_path / "out")], catch_exceptions=False)
    raw, text = r.output, " ".join(r.output.split())
    assert r.exit_code == 0, text
    written = pq.read_table(tmp_path / "out" / "ratings.parquet")
    assert written.to_pylist() == rate(shipped, folder, AS_OF, POINTS).to_pylist()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == "2025-12-31" and manifest["engine"] == "duckdb"
    assert manifest["known_at"] == "2025-12-31T23:59:59.999999"
    assert manifest["policy_digest"] == shipped.digest
    assert manifest["rows"] == {"ratings": written.num_rows}
    assert manifest["source"]["kind"] == "population"
    assert manifest["source"]["manifest"]["seed"] == 12
    assert manifest["schemes"] == list(POINTS)
    # entries and measures do not compile yet: not written, and the manifest says why
    assert manifest["rows"] == {"ratings": written.num_rows}
    # the summary: subjects per grade per scheme, as counted from the written rows
    counted = Counter((r["scheme"], r["grade"]) for r in written.to_pylist())
    shown = {(c[0], c[1]): int(c[2]) for c in _table_rows(raw) if len(c) == 3}
    assert shown == dict(counted) and len(shown) > len(POINTS)
    # an existing --out is refused, and kept; --overwrite replaces it once the new is whole
    code, text = _rate(*args, "--out", str(tmp_path / "out"))
    assert code == 2 and "exists" in text and "--overwrite" in text
    code, text = _rate(*args, "--as-of", "2021-12-16", "--out", str(tmp_path / "out"),
                       "--overwrite")
    assert code == 0, text
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == "2021-12-16"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left beside it


def test_a_construct_not_compiled_is_refused_and_nothing_is_written(folder: Path,
                                                                   tmp_path: Path) -> None:
    # without --output every output is written, with its row count in the manifest
    code, text = _rate("--data", str(folder), "--as-of", "2025-12-31", "--presets",
                       "court-debtors", "--out", str(tmp_path / "all"))
    assert code == 0, text
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == {n: pq.read_table(tmp_path / "all" / f"{n}.parquet").num_rows
                                for n in ("ratings", "entries", "measures")}
    assert manifest["rows"]["entries"] > 0
    # Sesame's first bin at 349 points: a raw span of 999, whose fraction is no finite
    # decimal, so its 350-950 scale cannot be computed exactly in SQL (refused, not rounded)
    root = tmp_path / "policies"
    shutil.copytree(POLICIES, root)
    path = root / "sesame" / "scheme.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "{ upto = 0, points = 350 }", "{ upto = 0, points = 349 }", 1), encoding="utf-8")
    r = CliRunner().invoke(app, ["rate", "--policies", str(root), "--data", str(folder),
                                 "--as-of", "2025-12-31", "--out", str(tmp_path / "out2")],
                           catch_exceptions=False)
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "sesame/scheme.toml:" in text and "'scale" in text
    assert not (tmp_path / "out2").exists()


def test_every_bad_row_is_listed_before_anything_is_rated(shipped: Policy,
                                                         population: Population,
                                                         tmp_path: Path) -> None:
    bad_record = dataclasses.replace(population.records[0], id="BAD1", subject="P9999999")
    bad_category = dataclasses.replace(population.records[1], id="BAD2", category="no.such")
    orphan = RecordEvent("BADE", "NO-RECORD", EventKind.REVOKED, AS_OF,
                         datetime.combine(AS_OF, time(9)))
    pop = dataclasses.replace(population,
                              records=(*population.records, bad_record, bad_category),
                              events=(*population.events, orphan))
    write_population(pop, tmp_path / "pop")
    # the streamed validation finds exactly what xinyong.checks finds
    want = check_population(shipped, pop.subjects, pop.links, pop.records, pop.events)
    with pytest.raises(InvalidPopulation) as e:
        validate(shipped, open_folder(tmp_path / "pop"), "1GB")
    assert [str(p) for p in e.value.problems] == [str(p) for p in want]
    n = len(population.records)
    assert [str(p) for p in want] == [
        f"records.parquet row {n + 1} (BAD1) field subject: unknown subject 'P9999999'",
        f"records.parquet row {n + 2} (BAD2) field category: 'no.such' is not in the catalog "
        f"on {bad_category.effective}; only catalog categories may be recorded",
        f"events.parquet row {len(population.events) + 1} (BADE) field record: unknown "
        "record 'NO-RECORD'",
    ]
    code, text = _rate("--data", str(tmp_path / "pop"), "--as-of", "2025-12-31", *_schemes(),
                       "--out", str(tmp_path / "out"))
    assert code == 2 and "3 bad row(s)" in text and "nothing was rated" in text
    assert "(BAD1)" in text and "(BAD2)" in text and "(BADE)" in text
    assert not (tmp_path / "out").exists()


def test_a_memory_limit_hit_is_an_error_naming_the_limit(folder: Path, tmp_path: Path) -> None:
    code, text = _rate("--data", str(folder), "--as-of", "2025-12-31", *_schemes(),
                       "--memory-limit", "2MB", "--temp-dir", str(tmp_path / "spill"),
                       "--out", str(tmp_path / "out"))
    assert code == 2 and "--memory-limit 2MB" in text and "raise --memory-limit" in text
    assert "Traceback" not in text and not (tmp_path / "out").exists()


def test_the_ledger_is_a_source(shipped: Policy, population: Population, folder: Path,
                                tmp_path: Path) -> None:
    from xinyong.ledger.batch import Batch
    from xinyong.ledger.store import Ledger

    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger = Ledger.open(url)
    ledger.write(Batch(list(population.subjects), list(population.links),
                       list(population.records), list(population.events)),
                 at=datetime(2019, 1, 1, 8))
    ledger.dispose()
    code, text = _rate("--database", url, "--as-of", "2025-12-31", *_schemes(),
                       "--out", str(tmp_path / "out"))
    assert code == 0, text
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"]["kind"] == "ledger"
    assert manifest["source"]["counts"]["records"] == len(population.records)
    # every record recorded before the as-of in both sources: the same ratings
    got = pq.read_table(tmp_path / "out" / "ratings.parquet").to_pylist()
    want = rate(shipped, folder, AS_OF, POINTS).to_pylist()
    assert [(r["subject"], r["scheme"], Decimal(r["score"])) for r in got] == [
        (r["subject"], r["scheme"], Decimal(r["score"])) for r in want]


def test_bad_usage_is_refused(folder: Path, tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "out")]
    code, text = _rate("--as-of", "2025-12-31", *out)
    assert code == 2 and "--data DIR or --database URL" in text
    code, text = _rate("--data", str(folder), "--database", "sqlite:///x.db", *out)
    assert code == 2 and "one source" in text
    code, text = _rate("--data", str(folder), "--engine", "presto", *out)
    assert code == 2 and "duckdb or spark" in text
    code, text = _rate("--data", str(tmp_path / "nowhere"), "--as-of", "2025-12-31",
                       *_schemes(), *out)
    assert code == 2 and "no such folder" in text
    code, text = _rate("--database", f"sqlite:///{tmp_path}/none.db", "--as-of",
                       "2025-12-31", *_schemes(), *out)
    assert code == 2 and "no such file" in text
    assert not (tmp_path / "out").exists()


def test_the_epilog_documents_the_exit_codes() -> None:
    r = CliRunner().invoke(app, ["rate", "--help"])
    text = " ".join(r.output.split())
    assert "Exit codes: 0 rated" in text and "2 refused" in text


def test_any_check_of_a_plan_refuses_naming_the_input_and_the_row(
        shipped: Policy, population: Population, folder: Path, tmp_path: Path) -> None:
    """The runner is generic over a plan's checks: the first row any check finds refuses the
    run with the input file and the row's values, and nothing is written."""
    import sqlglot.expressions as exp

    from xinyong.batch import DuckDBEngine, RefusedPopulation, run_plan
    from xinyong.engine.batch import compile_plan

    plan = compile_plan(shipped, AS_OF, schemes=POINTS, outputs=("ratings",))
    first = min(r.id for r in population.records)
    check = exp.select("id", "category").from_("records").where(
        exp.EQ(this=exp.column("id"), expression=exp.Literal.string(first)))
    plan = dataclasses.replace(plan, checks={**plan.checks, "some_new_check": check})
    with pytest.raises(RefusedPopulation) as e:
        run_plan(plan, open_folder(folder), DuckDBEngine(), tmp_path / "out")
    text = str(e.value)
    assert text.startswith(f"{folder}/records.parquet: row (id {first}, category ")
    assert "'some_new_check'" in text and not (tmp_path / "out").exists()
