"""The columnar generator: deterministic, the schemas of sim/parquet.py, valid identifiers,
and the distributions of sim/shape.py (bounds worked out from the shared description)."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from stdnum.cn import ric, uscc

from xinyong.files import load_policy
from xinyong.sim import plan
from xinyong.sim.columnar import Sizes, generate_columnar
from xinyong.sim.columnar_tables import KINDS, build
from xinyong.sim.parquet import SCHEMAS

START, END = date(2019, 1, 1), date(2025, 12, 31)
SIZES = Sizes(persons=6000, firms=4000, public_bodies=200, social_orgs=200)
INTENSITY = 3.0


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    return load_policy(None)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory, policy) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("pop") / "data"
    generate_columnar(policy, out, seed=7, sizes=SIZES, start=START, end=END,
                      intensity=INTENSITY, chunk_records=20_000)
    return out


def _con(d: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for t in SCHEMAS:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{d}/{t}/*.parquet')")
    return con


def test_same_seed_same_bytes(tmp_path: Path, policy) -> None:  # type: ignore[no-untyped-def]
    small = Sizes(500, 300, 10, 10)
    a = generate_columnar(policy, tmp_path / "a", seed=3, sizes=small, chunk_records=500)
    b = generate_columnar(policy, tmp_path / "b", seed=3, sizes=small, chunk_records=500)
    c = generate_columnar(policy, tmp_path / "c", seed=4, sizes=small, chunk_records=500)
    assert a["files"] == b["files"] and len(a["files"]) > 5
    assert a["files"] != c["files"]


def test_schemas_and_manifest(population: Path) -> None:
    manifest = json.loads((population / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["counts"]["subjects"] == 10_400
    for name, schema in SCHEMAS.items():
        parts = sorted((population / name).glob("*.parquet"))
        assert parts, name
        for p in parts:
            assert pq.read_schema(p).remove_metadata().equals(schema), p
            assert manifest["files"][f"{name}/{p.name}"]["rows"] == pq.read_metadata(p).num_rows


def test_identifiers_valid_and_unique(population: Path) -> None:
    rows = _con(population).sql(
        "SELECT kind, identifiers[1].scheme, identifiers[1].value FROM subjects").fetchall()
    assert len(rows) == 10_400
    for kind, scheme, value in rows:
        assert scheme == ("cn-ric" if kind == "person" else "cn-uscc")
        assert (ric if kind == "person" else uscc).is_valid(value), value
    assert len({v for _, _, v in rows}) == len(rows)


def test_categories_in_force_and_events_after(population: Path, policy) -> None:  # type: ignore[no-untyped-def]
    con = _con(population)
    spans = plan.category_spans(policy, START, END)
    for cat, eff, act, kind in con.sql(
            "SELECT r.category, r.effective, r.act_date, s.kind FROM records r "
            "JOIN subjects s ON s.id = r.subject").fetchall():
        sp = next(sp for sp in spans[cat] if sp.lo <= eff <= sp.hi)
        assert sp.lo <= act <= eff
        assert kind in {k.value for k in sp.category.subject_kinds}
    bad = con.sql("SELECT count(*) FROM events e JOIN records r ON r.id = e.record "
                  "WHERE e.effective <= r.recorded_at::DATE OR e.recorded_at < r.recorded_at "
                  "OR e.effective > DATE '2025-12-31'").fetchall()
    assert bad == [(0,)]
    orphans = con.sql("SELECT count(*) FROM records WHERE subject NOT IN "
                      "(SELECT id FROM subjects)").fetchall()
    assert orphans == [(0,)]


def test_records_per_firm_within_poisson_bound(population: Path, policy) -> None:  # type: ignore[no-untyped-def]
    """Firms registered before the window lose no record to registration: their counts are a
    Poisson mixture whose mean is the class rate (the propensity levels average to one)."""
    t = build(policy, START, END, intensity=INTENSITY)
    code_class = {r.code: c for r, c in zip(t.regions, t.region_class, strict=True)}
    con = _con(population)
    firms = con.sql(
        "SELECT s.region, count(r.id) FROM subjects s LEFT JOIN records r ON r.subject = s.id "
        f"WHERE s.kind = 'enterprise' AND s.registered <= DATE '{START}' GROUP BY s.id, s.region"
    ).fetchall()
    assert len(firms) > 2000
    mean = sum(t.levels) / len(t.levels)
    var_w = sum((w / mean - 1) ** 2 for w in t.levels) / len(t.levels)
    k = KINDS.index(KINDS[1])
    rates = [t.rate(k * t.n_region_classes + code_class[region]) for region, _ in firms]
    expected = sum(rates)
    sigma = math.sqrt(sum(r + r * r * var_w for r in rates))
    got = sum(n for _, n in firms)
    assert abs(got - expected) < 5 * sigma, (got, expected, sigma)
    years = (END - START).days / 365.25
    assert 0 < got / len(firms) / years < 10


def test_links_point_at_subjects_and_start_when_both_exist(population: Path) -> None:
    con = _con(population)
    bad = con.sql("""SELECT count(*) FROM links l JOIN subjects o ON o.id = l.organisation
        LEFT JOIN subjects p ON p.id = l.party
        WHERE p.id IS NULL OR l.start < o.registered OR (l."end" IS NOT NULL
              AND l."end" <= l.start)""").fetchall()
    assert bad == [(0,)]
    lr = con.sql("SELECT count(DISTINCT organisation) FROM links "
                 "WHERE role = 'legal_representative'").fetchall()
    assert lr == [(SIZES.organisations,)]


def test_a_failed_run_leaves_nothing(tmp_path: Path, policy) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="legal representative"):
        generate_columnar(policy, tmp_path / "out", seed=1, sizes=Sizes(0, 10, 0, 0))
    assert list(tmp_path.iterdir()) == []
