"""The batch ratings (issue 12) equal the per-subject engine's on every subject: every shipped
scheme form, relief, amount tests, repairs, corrections, revocations, opt-ins, overrides,
conditionals and linked conditions, on a generated population run on DuckDB."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import duckdb
import pytest

from xinyong.dataset import Dataset
from xinyong.engine.batch import compile_points
from xinyong.engine.rating import reads_of
from xinyong.files import load_policy
from xinyong.model import EventKind, Record, RecordEvent
from xinyong.policy.model import Policy
from xinyong.sim.parquet import write_population
from xinyong.sim.population import Population, generate
from xinyong.standings import standings

DATES = (date(2016, 6, 30), date(2019, 6, 30), date(2020, 6, 30), date(2021, 12, 16),
         date(2025, 12, 31))
TABLES = ("subjects", "links", "records", "events")
PUBLISHED: tuple[str, ...] = ()
RATED: Counter[str] = Counter()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


AMOUNTS = (Decimal(0), Decimal(8000), Decimal(60000), Decimal(150000), Decimal(2000000))
DAYS = (date(2015, 3, 1), date(2017, 8, 9), date(2018, 12, 31), date(2019, 6, 30),
        date(2020, 5, 1), date(2020, 11, 15), date(2021, 2, 1), date(2021, 12, 15),
        date(2022, 7, 1), date(2024, 6, 30), date(2025, 4, 2), date(2025, 9, 1))


def _exercised(pop: Population, policy: Policy) -> Population:
    """The generated population with, for four subjects under each scheme, records of every
    category any version of the scheme reads (its conditions' and reliefs' too) on days
    across the versions, amounts on both sides of the tests, and events of every kind:
    corrections moving amounts across thresholds, repairs (valid or too early), revocations,
    rectifications, re-evaluations after a publication; some records recorded late."""
    records: list[Record] = []
    events: list[RecordEvent] = []
    template = pop.records[0]
    schemes = sorted({s.id for s in policy.all("scheme")})
    for ident in schemes:
        versions = policy.versions["scheme"][ident]
        kinds = {k for v in versions for k in v.subject_kinds}
        chosen = [s for s in pop.subjects if s.kind in kinds
                  and any(s.region.startswith(v.regions) for v in versions)][:4]
        cats = sorted(reads_of(policy, ident).categories)
        for k, subject in enumerate(chosen):
            for n, cat in enumerate(cats):
                for m, day in enumerate(DAYS):
                    if (n + m + k) % 3:
                        continue
                    c = policy.at(day).categories.get(cat) or policy.at(DAYS[-1]).categories.get(
                        cat)
                    fields = c.amounts if c is not None else ()
                    rid = f"X{len(records):05d}"
                    amounts = {f: AMOUNTS[(len(records) + j) % len(AMOUNTS)]
                               for j, f in enumerate(fields)}
                    late = len(records) % 7 == 0
                    records.append(dataclasses.replace(
                        template, id=rid, subject=subject.id, category=cat, act_date=day,
                        effective=day, amounts=amounts, recorded_at=datetime.combine(
                            day + timedelta(days=30 if late else 0), time(12))))
                    e = len(records) % 6
                    on = day + timedelta(days=(40, 400, 800, 1200, 90, 2000)[e])
                    at = datetime.combine(on, time(9))
                    if e == 0 and fields:
                        events.append(RecordEvent(f"XE{len(events):05d}", rid,
                                                  EventKind.CORRECTED, on, at, amounts={
                                                      fields[0]: AMOUNTS[(e + len(records)) % 5]}))
                    elif e in (1, 2, 5):
                        events.append(RecordEvent(f"XE{len(events):05d}", rid,
                                                  EventKind.REPAIRED, on, at))
                    elif e == 3:
                        events.append(RecordEvent(f"XE{len(events):05d}", rid,
                                                  EventKind.REVOKED, on, at))
                    else:
                        events.append(RecordEvent(f"XE{len(events):05d}", rid,
                                                  EventKind.RECTIFIED, on, at))
    # opt-ins to every voluntary preset for the chosen subjects, some only later
    optins = {p.id for p in policy.presets.values() if p.voluntary}
    subjects = tuple(dataclasses.replace(s, opt_ins=(*s.opt_ins, *(
        (p, date(2018 + n % 6, 1, 1)) for p in sorted(optins))))
        if n % 3 == 0 else s for n, s in enumerate(pop.subjects))
    return dataclasses.replace(pop, subjects=subjects, records=(*pop.records, *records),
                               events=(*pop.events, *events))


@pytest.fixture(scope="module")
def population(policy: Policy) -> Population:
    return _exercised(generate(policy, seed=12, persons=300, enterprises=60), policy)


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
