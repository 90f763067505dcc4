"""The batch ratings (issue 12) equal the per-subject engine's on every subject: every shipped
scheme form, relief, amount tests, repairs, corrections, revocations, opt-ins, overrides,
conditionals and linked conditions, on a generated population run on DuckDB."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from xinyong.dataset import Dataset
from xinyong.engine.batch import compile_points
from xinyong.files import load_policy
from xinyong.policy.model import Policy
from xinyong.sim.parquet import write_population
from xinyong.sim.population import Population, generate
from xinyong.standings import standings

DATES = (date(2016, 6, 30), date(2019, 6, 30), date(2020, 6, 30), date(2021, 12, 16),
         date(2025, 12, 31))
TABLES = ("subjects", "links", "records", "events")
PUBLISHED = ("sat.tax_credit",)
RATED: Counter[str] = Counter()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def population(policy: Policy) -> Population:
    return generate(policy, seed=12, persons=300, enterprises=60)


@pytest.fixture(scope="module")
def con(population: Population, tmp_path_factory: pytest.TempPathFactory
        ) -> duckdb.DuckDBPyConnection:
    out = tmp_path_factory.mktemp("pop")
    write_population(population, out)
    c = duckdb.connect()
    for t in TABLES:
        c.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{out / t}.parquet')")
    return c


def _batch(con: duckdb.DuckDBPyConnection, policy: Policy, as_of: date,
           schemes: list[str]) -> dict[tuple[str, str], tuple[object, ...]]:
    rows = con.sql(compile_points(policy, as_of, schemes).sql()).fetchall()
    out = {(r[0], r[1]): (Decimal(r[2]), r[3], r[4], tuple(r[5])) for r in rows}
    assert len(out) == len(rows)
    return out


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_every_scheme_equals_the_engine(policy: Policy, population: Population,
                                        con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    schemes = [s for s in sorted(policy.at(as_of).schemes) if s not in PUBLISHED]
    batch = _batch(con, policy, as_of, schemes)
    data = Dataset(population.subjects, population.links, population.records, population.events)
    engine = {(sid, s): (r.score, r.band_grade, r.grade, r.principal_reasons)
              for sid, st in standings(data, policy, population.subjects, as_of).items()
              for s, r in st.ratings.items() if s in schemes}
    assert batch == engine
    RATED.update(s for _, s in batch)
