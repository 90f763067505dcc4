"""The batch evaluator (issue 12, first step): points schemes compiled into one query, run on
DuckDB over a population folder, equal to the per-subject engine on every subject."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from xinyong.batch import rate
from xinyong.dataset import Dataset
from xinyong.engine.batch import Unsupported, compile_points
from xinyong.files import default_policy_dir, load_policy
from xinyong.model import EventKind, Record, RecordEvent
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.sim.parquet import write_population
from xinyong.sim.population import Population, generate
from xinyong.standings import standings

# the shipped points schemes with nothing the compiler does not cover yet (no overrides,
# conditionals, amount tests, opt-ins): local pilots in Suqian, Suzhou, Fuzhou and Xiamen
POINTS = ("fuzhou.credit_score", "suqian.xichu_points", "suzhou.osmanthus_points",
          "xiamen.credit_score")
DATES = (date(2019, 6, 30), date(2021, 12, 16), date(2025, 12, 31))


PERIODS = (Period(months=6), Period(years=1), Period(years=3))


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """The shipped presets with Suzhou's scheme given a scheme window (P3Y), indicator
    windows (P6M, P1Y) and a cap (40): constructs no shipped points scheme uses."""
    root = tmp_path_factory.mktemp("policies") / "policies"
    shutil.copytree(default_policy_dir(), root)
    path = root / "suzhou" / "scheme.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("base = 100\n", 'base = 100\nwindow = "P3Y"\n', 1)
    text = text.replace("points = 5\n", 'points = 5\nwindow = "P6M"\n', 1)
    text = text.replace("points = 20\n", 'points = 20\nwindow = "P1Y"\ncap = 40\n', 1)
    path.write_text(text, encoding="utf-8")
    return load_policy(root)


@pytest.fixture(scope="module", params=["shipped", "windowed"])
def policy(request: pytest.FixtureRequest) -> Policy:
    found: Policy = request.getfixturevalue(request.param)
    return found


def _boundaries() -> list[date]:
    """Effective dates on every window boundary of every as-of date, and as-of itself."""
    out = set()
    for d in DATES:
        out.update({d, d - timedelta(days=1), d + timedelta(days=1)})
        for p in PERIODS:
            b = p.before(d)
            out.update({b - timedelta(days=1), b, b + timedelta(days=1)})
    return sorted(out)


def _exercised(pop: Population, policy: Policy) -> Population:
    """The generated population with, for three subjects under each scheme, records of every
    category the scheme reads on every boundary; some recorded late (after as-of: not known),
    some revoked on an as-of day or the day after."""
    records: list[Record] = []
    events: list[RecordEvent] = []
    template = pop.records[0]
    for ident in POINTS:
        scheme = policy.at(DATES[-1]).schemes[ident]
        chosen = [s for s in pop.subjects if s.kind in scheme.subject_kinds
                  and s.region.startswith(scheme.regions)][:3]
        assert chosen, f"no subject under {ident}"
        for k, subject in enumerate(chosen):
            for cat in sorted({c for i in scheme.indicator for c in i.categories}):
                for n, day in enumerate(_boundaries()):
                    if (n + k) % (k + 1):
                        continue  # each subject its own share of the boundaries
                    rid = f"BX{len(records):05d}"
                    late = len(records) % 5 == 0
                    records.append(dataclasses.replace(
                        template, id=rid, subject=subject.id, category=cat, act_date=day,
                        effective=day, recorded_at=datetime.combine(
                            day + timedelta(days=2 if late else 0), time(12))))
                    if len(records) % 4 == 1:
                        on = DATES[len(records) % 3] + timedelta(days=len(records) % 2)
                        events.append(RecordEvent(f"BE{len(events):05d}", rid,
                                                  EventKind.REVOKED, on,
                                                  datetime.combine(on, time(9))))
    # handed in twice: the later copy (other date, recorded later) is ignored by the engine
    records += [dataclasses.replace(r, effective=r.effective - timedelta(days=400),
                                    recorded_at=r.recorded_at + timedelta(hours=1))
                for r in records[::7]]
    return dataclasses.replace(pop, records=(*pop.records, *records),
                               events=(*pop.events, *events))


@pytest.fixture(scope="module")
def population(policy: Policy) -> Population:
    return _exercised(generate(policy, seed=12, persons=300, enterprises=60), policy)


@pytest.fixture(scope="module")
def folder(population: Population, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop")
    write_population(population, out)
    return out


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_batch_equals_the_engine_on_every_subject(policy: Policy, population: Population,
                                                  folder: Path, as_of: date) -> None:
    table = rate(policy, folder, as_of, POINTS)
    batch = {(r["subject"], r["scheme"]): (Decimal(r["score"]), r["grade"])
             for r in table.to_pylist()}
    assert len(batch) == table.num_rows  # one row per subject and scheme
    data = Dataset(population.subjects, population.links, population.records, population.events)
    engine = {
        (sid, scheme): (rating.score, rating.grade)
        for sid, st in standings(data, policy, population.subjects, as_of).items()
        for scheme, rating in st.ratings.items() if scheme in POINTS
    }
    assert batch == engine
    # the comparison is not empty: every scheme rates someone, and records move scores
    assert set(Counter(s for _, s in batch)) == set(POINTS)
    assert len({score for score, _ in batch.values()}) > len(POINTS)


def test_revoked_records_count_nothing(shipped: Policy, population: Population) -> None:
    revoked = {e.record for e in population.events if e.kind is EventKind.REVOKED}
    assert any(r.id in revoked for r in population.records)  # the population exercises it
    sql = compile_points(shipped, DATES[-1], POINTS).sql()
    assert "'revoked'" in sql


@pytest.fixture(scope="module")
def span_999(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped presets with Sesame's first bin at 349 points: a raw span of 999, whose
    fraction is no finite decimal (not compiled)."""
    root = tmp_path_factory.mktemp("policies") / "policies"
    shutil.copytree(default_policy_dir(), root)
    path = root / "sesame" / "scheme.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{ upto = 0, points = 350 }", "{ upto = 0, points = 349 }", 1),
                    encoding="utf-8")
    return root


def test_a_construct_not_compiled_is_refused_with_file_and_key(span_999: Path) -> None:
    with pytest.raises(Unsupported) as e:
        compile_points(load_policy(span_999), date(2022, 6, 30), ["sesame.score"])
    text = str(e.value)
    assert "sesame/scheme.toml:" in text
    assert "'scale" in text and "sesame.score" in text


def test_a_scheme_not_in_force_is_refused(shipped: Policy) -> None:
    # Suining's mass credit scheme ended in 2014
    with pytest.raises(Unsupported, match="not in force on 2022-06-30"):
        compile_points(shipped, date(2022, 6, 30), ["suining.mass_credit"])


def test_a_population_with_repairs_is_rated(shipped: Policy, tmp_path: Path) -> None:
    # repairs are compiled now: a repaired record no longer counts, as in the engine
    pop = _exercised(generate(shipped, seed=12, persons=300, enterprises=60), shipped)
    record = pop.records[-1]  # one of a compiled scheme's categories (added above)
    repair = RecordEvent("BR1", record.id, EventKind.REPAIRED, record.effective,
                         datetime.combine(record.effective, time(10)))
    pop = dataclasses.replace(pop, events=(*pop.events, repair))
    write_population(pop, tmp_path)
    table = rate(shipped, tmp_path, DATES[-1], POINTS)
    batch = {(r["subject"], r["scheme"]): (Decimal(r["score"]), r["grade"])
             for r in table.to_pylist()}
    data = Dataset(pop.subjects, pop.links, pop.records, pop.events)
    engine = {(sid, scheme): (rating.score, rating.grade)
              for sid, st in standings(data, shipped, pop.subjects, DATES[-1]).items()
              for scheme, rating in st.ratings.items() if scheme in POINTS}
    assert batch == engine


def test_windows_cap_and_clamp_worked_by_hand(shipped: Policy, windowed: Policy,
                                              tmp_path: Path) -> None:
    """Suzhou's scheme with the test's windows and cap, one person rated on 2025-12-31:
    base 100; honours +20 each within P1Y, capped at 40; volunteer +5 each within P6M;
    donations +5 each within the scheme's P3Y."""
    as_of = date(2025, 12, 31)
    pop = generate(shipped, seed=12, persons=300, enterprises=60)
    person = next(s for s in pop.subjects if s.kind.value == "person"
                  and s.region.startswith("3205"))
    template = pop.records[0]
    dated = [
        ("suzhou.honours.municipal_honour", date(2025, 12, 21)),   # in P1Y
        ("suzhou.honours.municipal_honour", date(2025, 6, 1)),     # in P1Y
        ("suzhou.honours.municipal_honour", date(2025, 1, 1)),     # in P1Y: ends 2026-01-01
        ("suzhou.honours.municipal_honour", date(2024, 12, 31)),   # out: ends on as-of
        ("suzhou.honours.municipal_honour", date(2024, 6, 1)),     # out of P1Y
        ("suzhou.social.volunteer_service", date(2025, 7, 1)),     # in P6M
        ("suzhou.social.volunteer_service", date(2025, 6, 30)),    # out: ends on as-of
        ("suzhou.social.charitable_donation", date(2023, 1, 1)),   # in P3Y
        ("suzhou.social.charitable_donation", date(2022, 12, 31)),  # out of the P3Y window
    ]
    records = tuple(dataclasses.replace(
        template, id=f"H{n}", subject=person.id, category=cat, act_date=day, effective=day,
        recorded_at=datetime.combine(day, time(12))) for n, (cat, day) in enumerate(dated))
    write_population(dataclasses.replace(pop, subjects=(person,), links=(), records=records,
                                         events=()), tmp_path)
    rows = rate(windowed, tmp_path, as_of, ["suzhou.osmanthus_points"]).to_pylist()
    # 100 + min(3 × 20, 40) + 1 × 5 + 1 × 5 = 150: the lowest score of "excellent"
    assert [(r["subject"], Decimal(r["score"]), r["grade"]) for r in rows] == [
        (person.id, Decimal(150), "excellent")]
    # without windows or cap: 100 + 5 × 20 + 2 × 5 + 2 × 5 = 220, clamped to 200
    rows = rate(shipped, tmp_path, as_of, ["suzhou.osmanthus_points"]).to_pylist()
    assert [(Decimal(r["score"]), r["grade"]) for r in rows] == [(Decimal(200), "excellent")]


def test_the_rate_command_writes_ratings_and_a_manifest(shipped: Policy, span_999: Path,
                                                         tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from xinyong.cli import app

    pop = _exercised(generate(shipped, seed=12, persons=300, enterprises=60), shipped)
    write_population(pop, tmp_path / "pop")
    policies = str(default_policy_dir())
    args = ["rate", "--data", str(tmp_path / "pop"), "--as-of", "2025-12-31",
            "--policies", policies, *(a for s in POINTS for a in ("--scheme", s))]
    runner = CliRunner()
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    written = pq.read_table(tmp_path / "out" / "ratings.parquet")
    assert written.to_pylist() == rate(shipped, tmp_path / "pop", DATES[-1], POINTS).to_pylist()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == "2025-12-31" and manifest["engine"] == "duckdb"
    assert manifest["policy_digest"] == shipped.digest
    assert manifest["rows"] == {"ratings": written.num_rows}
    # an existing --out is refused
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert r.exit_code == 2 and "exists" in r.output
    # a construct not compiled is refused with its file and key, and nothing is written
    r = runner.invoke(app, ["rate", "--data", str(tmp_path / "pop"), "--as-of", "2025-12-31",
                            "--policies", str(span_999), "--scheme", "sesame.score",
                            "--out", str(tmp_path / "out2")], catch_exceptions=False)
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "sesame/scheme.toml:" in text and "'scale" in text
    assert not (tmp_path / "out2").exists()
