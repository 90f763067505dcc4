"""Grade runs in the batch evaluator (issue 12): the turning points and the runs of one grade
of every subject under every scheme (the published tax rating too) equal the per-subject engine's
(``engine.history``), on a generated population given records, repairs and revocations on
many days, at dates across the pilots' lives."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot.expressions as exp

from xinyong.engine.batch.compile import new_build
from xinyong.engine.batch.runs import grade_runs, turning_points
from xinyong.engine.facts import Inputs, known_inputs, view_on
from xinyong.engine.history import _turning_points
from xinyong.engine.history import grade_runs as engine_runs
from xinyong.engine.rating import reads_of
from xinyong.files import load_policy
from xinyong.model import EventKind, Record, RecordEvent
from xinyong.policy.model import Policy
from xinyong.sim.parquet import write_population
from xinyong.sim.population import Population, generate

DATES = (date(2012, 6, 30), date(2019, 6, 30), date(2025, 12, 31))
SCHEMES = ("sat.tax_credit", "honest_shanghai.rating", "jiakuang_majia.points",
           "ndrc.enterprise_appraisal", "rongcheng.points", "sesame.score",
           "suining.mass_credit", "suzhou.osmanthus_points", "fuzhou.credit_score",
           "xiamen.credit_score", "suqian.xichu_points")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _busy(pop: Population, policy: Policy) -> Population:
    """The population with, for four subjects under each scheme, a record of each category the
    scheme reads every 97 days from its start to 2025 (so grades move), amounts of 5,000,
    every third recorded a day late, every fifth revoked a year on, every seventh repaired
    after two years; under a voluntary scheme three of the four opt in (2016, 2017, 2018)."""
    records: list[Record] = []
    events: list[RecordEvent] = []
    opted: dict[str, tuple[tuple[str, date], ...]] = {}
    template = pop.records[0]
    for ident in SCHEMES:
        versions = policy.versions["scheme"][ident]
        kinds = {k for v in versions for k in v.subject_kinds}
        regions = versions[-1].regions
        chosen = [s for s in pop.subjects if s.kind in kinds and s.region.startswith(regions)][:4]
        cats = sorted({c for v in versions for i in v.indicator for c in i.categories})
        preset = policy.presets[policy.preset_of("scheme", versions[-1])]
        for k, subject in enumerate(chosen):
            if preset.voluntary and k < 3:
                opted[subject.id] = (*subject.opt_ins, (preset.id, date(2016 + k, 3, 1)))
            for n, cat in enumerate(cats):
                d = versions[0].effective_from + timedelta(days=31 * k + 13 * n)
                while d < date(2026, 1, 1):
                    rid = f"GR{len(records):06d}"
                    late = len(records) % 3 == 0
                    category = policy.at(d).categories.get(cat)
                    records.append(dataclasses.replace(
                        template, id=rid, subject=subject.id, category=cat, act_date=d,
                        effective=d, amounts={f: Decimal(5000) for f in (
                            category.amounts if category else ())},
                        recorded_at=datetime.combine(
                            d + timedelta(days=1 if late else 0), time(12))))
                    if len(records) % 5 == 0:
                        on = d + timedelta(days=365)
                        events.append(RecordEvent(f"GE{len(events):06d}", rid, EventKind.REVOKED,
                                                  on, datetime.combine(on, time(9))))
                    elif len(records) % 7 == 0:
                        on = d + timedelta(days=730)
                        events.append(RecordEvent(f"GE{len(events):06d}", rid,
                                                  EventKind.REPAIRED, on,
                                                  datetime.combine(on, time(9))))
                    d += timedelta(days=97 * (1 + n % 3))
    subjects = tuple(dataclasses.replace(s, opt_ins=opted[s.id]) if s.id in opted else s
                     for s in pop.subjects)
    return dataclasses.replace(pop, subjects=subjects, records=(*pop.records, *records),
                               events=(*pop.events, *events))


@pytest.fixture(scope="module")
def population(policy: Policy) -> Population:
    return _busy(generate(policy, seed=21, persons=100, enterprises=30), policy)


@pytest.fixture(scope="module")
def con(population: Population, tmp_path_factory: pytest.TempPathFactory
        ) -> duckdb.DuckDBPyConnection:
    folder: Path = tmp_path_factory.mktemp("runs")
    write_population(population, folder)
    c = duckdb.connect()
    for t in ("subjects", "links", "records", "events"):
        c.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{folder}/{t}.parquet')")
    return c


def _inputs(population: Population, as_of: date) -> Inputs:
    subjects = {s.id: s for s in population.subjects}
    return known_inputs(population.records, population.events, population.links, subjects,
                        datetime.combine(as_of, time.max), [])


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_runs_equal_the_engine_on_every_subject(policy: Policy, population: Population,
                                                con: duckdb.DuckDBPyConnection,
                                                as_of: date) -> None:
    subjects = {s.id: s for s in population.subjects}
    ctx = view_on(policy, subjects, _inputs(population, as_of), as_of, warnings=[])
    for scheme in SCHEMES:
        b = new_build(policy, as_of)
        q = b.with_ctes(exp.select("subject", "start", "end", "grade", "records").from_(
            grade_runs(b, scheme)))
        batch: dict[str, list[tuple[object, ...]]] = {}
        for sid, start, end, grade, recs in con.execute(q.sql("duckdb")).fetchall():
            batch.setdefault(sid, []).append((start, end, grade, tuple(recs)))
        kinds = {k for v in policy.versions["scheme"][scheme] for k in v.subject_kinds}
        moved = 0
        for sid, s in subjects.items():
            if s.kind not in kinds:
                continue
            engine = [(r.start, r.end, r.grade, r.records)
                      for r in engine_runs(ctx, scheme, sid)]
            assert sorted(batch.get(sid, [])) == engine, (scheme, sid)
            moved += len(engine) > 1
        # not a comparison of constant runs: a scheme a year old has moved someone's grade
        if policy.versions["scheme"][scheme][0].effective_from < as_of - timedelta(days=365):
            assert moved, scheme


def test_turning_points_equal_the_engine(policy: Policy, population: Population,
                                         con: duckdb.DuckDBPyConnection) -> None:
    as_of = DATES[-1]
    subjects = {s.id: s for s in population.subjects}
    ctx = view_on(policy, subjects, _inputs(population, as_of), as_of, warnings=[])
    for scheme in SCHEMES:
        b = new_build(policy, as_of)
        q = b.with_ctes(exp.select("subject", "day").from_(turning_points(b, scheme)))
        batch: dict[str, set[date]] = {}
        for sid, d in con.execute(q.sql("duckdb")).fetchall():
            batch.setdefault(sid, set()).add(d)
        reads = reads_of(policy, scheme)
        kinds = {k for v in policy.versions["scheme"][scheme] for k in v.subject_kinds}
        for sid, s in subjects.items():
            if s.kind in kinds:
                assert batch.get(sid, set()) == set(_turning_points(ctx, reads, sid)), (
                    scheme, sid)
