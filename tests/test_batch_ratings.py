"""The batch ratings (issue 12) equal the per-subject engine's on every subject: every shipped
scheme form, relief, amount tests, repairs, corrections, revocations, opt-ins, overrides,
conditionals and linked conditions, on a generated population run on DuckDB."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
import sqlglot.expressions as exp

from xinyong.dataset import Dataset
from xinyong.engine.batch import Unsupported, compile_points
from xinyong.engine.batch.compile import new_build
from xinyong.engine.batch.facts import View
from xinyong.engine.batch.publication import published_at
from xinyong.engine.batch.ratings import rated_at
from xinyong.engine.facts import known_inputs, view_on
from xinyong.engine.rating import applies, published_rating, rate, reads_of
from xinyong.files import default_policy_dir, load_policy
from xinyong.model import EventKind, Record, RecordEvent, Subject
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
    # Covid relief: a firm certified in difficulty files late in 2020 (waived in the rating
    # published in 2021), and once more after its year of cover
    firms = [s for s in pop.subjects if s.kind.value == "enterprise"][:3]
    for n, f in enumerate(firms):
        for cat, day in (("commercial.covid.difficulty_certified", date(2020, 3, 1)),
                         ("tax.late_filing", date(2020, 6, 1)),
                         ("tax.late_payment", date(2020, 9, 1 + n)),
                         ("tax.late_filing", date(2021, 3, 2))):
            records.append(dataclasses.replace(
                template, id=f"XR{len(records):05d}", subject=f.id, category=cat,
                act_date=day, effective=day, amounts={"tax_late": Decimal(100)}
                if cat == "tax.late_payment" else {}, recorded_at=datetime.combine(day, time(9))))
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


def test_the_population_exercises_every_construct(policy: Policy,
                                                  population: Population) -> None:
    """The differential test above is not vacuous: at its dates the engine's ratings show
    relief, re-evaluations, links, every kind of adjustment, principal reasons and repairs."""
    data = Dataset(population.subjects, population.links, population.records, population.events)
    seen: Counter[str] = Counter()
    for as_of in DATES:
        for st in standings(data, policy, population.subjects, as_of).values():
            for r in st.ratings.values():
                seen["waived"] += sum(len(c.waived) for c in r.contributions)
                seen["reassessed"] += r.reassessed_by is not None
                seen["reasons"] += bool(r.principal_reasons)
                for a in r.adjustments:
                    seen[f"{r.scheme}:{a.rule}"] += 1
                    seen["linked"] += bool(a.via)
    kinds = Counter(e.kind for e in population.events)
    assert all(kinds[k] for k in EventKind)
    for key in ("waived", "reassessed", "reasons", "linked", "sat.tax_credit:direct_d",
                "sat.tax_credit:m_grade", "rongcheng.points:drunk_driving"):
        assert seen[key], key


def _one(policy: Policy, subjects: tuple[Subject, ...], records: list[Record],
         events: list[RecordEvent], tmp: Path, as_of: date,
         scheme: str) -> list[tuple[object, ...]]:
    pop = generate(policy, seed=12, persons=20, enterprises=4)
    write_population(dataclasses.replace(pop, subjects=subjects, links=(),
                                         records=tuple(records), events=tuple(events)), tmp)
    c = duckdb.connect()
    for t in TABLES:
        c.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{tmp / t}.parquet')")
    return [(r[0], Decimal(r[2]), r[3], r[4], tuple(r[5]))
            for r in c.sql(compile_points(policy, as_of, [scheme]).sql()).fetchall()]


def _record(template: Record, rid: str, subject: str, cat: str, day: date,
            recorded: date | None = None, **amounts: int) -> Record:
    return dataclasses.replace(
        template, id=rid, subject=subject, category=cat, act_date=day, effective=day,
        amounts={k: Decimal(v) for k, v in amounts.items()},
        recorded_at=datetime.combine(recorded or day, time(12)))


def test_a_scorecard_worked_by_hand(policy: Policy, population: Population,
                                    tmp_path: Path) -> None:
    """Sesame on 2025-12-31: two late repayments (bin up to 3: 80 of 350), seven bills paid on
    time (up to 20: 180 of 250), a best balance of 50,000 (up to 100,000: 140 of 200), a
    verified profile (150 of 150), no contacts (0 of 50). Raw 550 of 0..1000 on 350..950:
    350 + 550 × 0.6 = 680, "excellent"; shortfalls 270, 70, 60, 0, 50: four reasons."""
    person = next(s for s in population.subjects if s.kind.value == "person")
    person = dataclasses.replace(person, registered=None,
                                 opt_ins=(("sesame", date(2015, 1, 1)),))
    t = population.records[0]
    d = date(2025, 3, 1)
    recs = [_record(t, f"L{n}", person.id, "sesame.credit.repayment_late", d) for n in range(2)]
    recs += [_record(t, f"B{n}", person.id, "sesame.behaviour.bill_paid_on_time", d)
             for n in range(7)]
    recs += [_record(t, "A1", person.id, "sesame.credit.account_in_good_standing", d,
                     balance_yuan=50000),
             _record(t, "A2", person.id, "sesame.credit.account_in_good_standing", d,
                     balance_yuan=9000),
             _record(t, "V1", person.id, "sesame.identity.profile_verified", d)]
    rows = _one(policy, (person,), recs, [], tmp_path, date(2025, 12, 31), "sesame.score")
    assert rows == [(person.id, Decimal(680), "excellent", "excellent", (
        "credit_history", "behaviour_preferences", "ability_to_perform", "social_connections"))]


def test_a_tax_rating_worked_by_hand(policy: Policy, population: Population,
                                     tmp_path: Path) -> None:
    """The tax rating in force on 2025-12-31 was published on 2025-04-01 for 2024, under the
    2018 rules (base 100, late filing -5, late payment -3, invoices -11, each within a year).
    Firm E1: a late filing in 2024 counts (-5: 95, A); one at 2023-12-31 has left the window;
    a late payment recorded after the publication day is not known to it; an invoice record
    revoked by as-of never existed; an evasion of 150,000 on 2,000,000 payable (7.5 %) is
    corrected before publication to 1,000,000 payable (15 %): direct D. Firm E2: the same,
    and a re-evaluation granted on 2025-06-01 recomputes 2024 with what is known then: the
    late payment counts (92) and a second correction (evaded 50,000) ends the direct D: A."""
    firms = [s for s in population.subjects if s.kind.value == "enterprise"][:2]
    firms = [dataclasses.replace(f, registered=date(2015, 1, 1), opt_ins=()) for f in firms]
    t = population.records[0]
    recs: list[Record] = []
    events: list[RecordEvent] = []
    for f in firms:
        recs += [
            _record(t, f"{f.id}-1", f.id, "tax.late_filing", date(2024, 3, 1)),
            _record(t, f"{f.id}-2", f.id, "tax.late_filing", date(2023, 12, 31)),
            _record(t, f"{f.id}-3", f.id, "tax.late_payment", date(2024, 6, 1),
                    recorded=date(2025, 4, 2)),
            _record(t, f"{f.id}-4", f.id, "tax.invoice_irregular", date(2024, 10, 1)),
            _record(t, f"{f.id}-5", f.id, "tax.evasion", date(2024, 5, 1),
                    tax_evaded=150000, tax_payable=2000000)]
        at = datetime(2025, 2, 1, 9)
        events += [
            RecordEvent(f"{f.id}-e1", f"{f.id}-4", EventKind.REVOKED, date(2025, 12, 1),
                        datetime(2025, 12, 1, 9)),
            RecordEvent(f"{f.id}-e2", f"{f.id}-5", EventKind.CORRECTED, date(2025, 2, 1), at,
                        amounts={"tax_payable": Decimal(1000000)}),
            RecordEvent(f"{f.id}-e3", f"{f.id}-5", EventKind.CORRECTED, date(2025, 5, 1),
                        datetime(2025, 5, 1, 9), amounts={"tax_evaded": Decimal(50000)})]
    e1, e2 = firms
    recs.append(_record(t, "R1", e2.id, "tax.credit.reevaluated", date(2025, 6, 1)))
    rows = _one(policy, tuple(firms), recs, events, tmp_path, date(2025, 12, 31),
                "sat.tax_credit")
    assert sorted(rows) == sorted([(e1.id, Decimal(95), "A", "D", ()),
                                   (e2.id, Decimal(92), "A", "A", ())])


def test_the_sql_transpiles_to_spark(policy: Policy) -> None:
    """Every shipped scheme's query reads in Spark's dialect: ordered lists are sorted
    structs, never ARRAY_AGG ... ORDER BY (which loses its order in Spark)."""
    for as_of in (date(2025, 12, 31),):
        sql = compile_points(policy, as_of).sql(dialect="spark")
        assert "ARRAY_SORT(" in sql and "COLLECT_LIST(" in sql and "ARRAY_AGG" not in sql
        assert sqlglot.parse_one(sql, read="spark") is not None


POINT_DAYS = (date(2016, 6, 30), date(2019, 6, 30), date(2020, 6, 30), date(2022, 1, 1),
              date(2025, 12, 31))


def test_rated_at_rates_many_views_at_once(policy: Policy, population: Population,
                                           con: duckdb.DuckDBPyConnection) -> None:
    """``rated_at`` over a table of evaluation points (every subject on five days, revoked
    records as of the last) equals the engine's rating in each day's view, under the version
    in force that day; records in ``Rating.records`` order."""
    revoked_on = POINT_DAYS[-1]
    con.execute("CREATE OR REPLACE TABLE pts AS SELECT s.id AS subject, d.day FROM subjects s "
                "CROSS JOIN (SELECT UNNEST([" + ", ".join(
                    f"DATE '{d}'" for d in POINT_DAYS) + "]) AS day) d")
    view = View(exp.column("day", "pts"), exp.column("day", "pts"), None, revoked_on,
                "pts", ("day",))
    known = datetime.combine(revoked_on, time.max)
    warnings: list[str] = []
    inputs = known_inputs(population.records, population.events, population.links,
                          {s.id: s for s in population.subjects}, known, warnings)
    subjects = {s.id: s for s in population.subjects}
    schemes = sorted({s.id for s in policy.all("scheme") if s.publication is None})
    for ident in schemes:
        b = new_build(policy, revoked_on, known)
        q = rated_at(b, ident, view)
        for name, cte in b.ctes.items():
            q = q.with_(name, as_=cte, copy=False)
        batch = {(r[0], r[1]): (Decimal(r[3]), r[4], r[5], tuple(r[6]), tuple(r[7]))
                 for r in con.sql(q.sql(dialect="duckdb")).fetchall()}
        engine = {}
        for d in POINT_DAYS:
            ctx = view_on(policy, subjects, inputs, d, warnings=warnings, revoked_on=revoked_on)
            scheme = ctx.view.schemes.get(ident)
            if scheme is None:
                continue
            for sid, s in subjects.items():
                if applies(ctx, scheme, s):
                    r = rate(ctx, scheme, sid)
                    engine[(d, sid)] = (r.score, r.band_grade, r.grade, r.principal_reasons,
                                        r.records)
        assert batch == engine, ident


@pytest.fixture(scope="module")
def amended(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """The shipped presets with the NDRC appraisal capped at "poor" for a firm whose
    published tax grade is D (a grade test on a published rating), and Sesame's first bin
    at 349 points (a raw span of 999, whose fraction is no finite decimal)."""
    root = tmp_path_factory.mktemp("policies") / "policies"
    shutil.copytree(default_policy_dir(), root)
    path = root / "enterprise-appraisal-2019" / "scheme.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '''
[[scheme.override]]
id = "tax_d"
when = { grade = { scheme = "sat.tax_credit", grades = ["D"] } }
at_most = "poor"
legal_basis = ["ndrc-2019-885"]
''', encoding="utf-8")
    path = root / "sesame" / "scheme.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{ upto = 0, points = 350 }", "{ upto = 0, points = 349 }", 1),
                    encoding="utf-8")
    return load_policy(root)


@pytest.mark.parametrize("as_of", (date(2021, 12, 16), date(2025, 12, 31)), ids=str)
def test_a_grade_test_on_a_published_rating(amended: Policy, population: Population,
                                            con: duckdb.DuckDBPyConnection,
                                            as_of: date) -> None:
    ident = "ndrc.enterprise_appraisal"
    batch = _batch(con, amended, as_of, [ident])
    data = Dataset(population.subjects, population.links, population.records, population.events)
    engine = {(sid, s): (r.score, r.band_grade, r.grade, r.principal_reasons)
              for sid, st in standings(data, amended, population.subjects, as_of).items()
              for s, r in st.ratings.items() if s == ident}
    assert batch == engine
    assert any(g == "poor" and b != "poor" for _, b, g, _ in engine.values())


def test_what_is_not_compiled_is_refused_with_file_and_key(amended: Policy) -> None:
    with pytest.raises(Unsupported) as e:
        compile_points(amended, date(2025, 12, 31), ["sesame.score"])
    text = str(e.value)
    assert "sesame/scheme.toml:" in text and "'scale" in text and "sesame.score" in text


def test_published_at_rates_the_rating_in_force_on_each_day(
        policy: Policy, population: Population, con: duckdb.DuckDBPyConnection) -> None:
    """``published_at`` over evaluation points equals ``published_rating(on=day)`` in the
    as-of view (what grade runs read): the rating published last before each day, or
    re-evaluated since, with its records, assessed day and re-evaluation record."""
    as_of = POINT_DAYS[-1]
    days = (*POINT_DAYS, date(2021, 4, 1), date(2023, 3, 31), date(2025, 4, 1))
    con.execute("CREATE OR REPLACE TABLE pts AS SELECT s.id AS subject, d.day FROM subjects s "
                "CROSS JOIN (SELECT UNNEST([" + ", ".join(
                    f"DATE '{d}'" for d in days) + "]) AS day) d")
    view = View(exp.column("day", "pts"), exp.column("day", "pts"), None, as_of, "pts",
                ("day",))
    known = datetime.combine(as_of, time.max)
    b = new_build(policy, as_of, known)
    q = published_at(b, "sat.tax_credit", view)
    for name, cte in b.ctes.items():
        q = q.with_(name, as_=cte, copy=False)
    batch = {(r[0], r[1]): (Decimal(r[3]), r[4], r[5], tuple(r[7]), r[8], r[9])
             for r in con.sql(q.sql(dialect="duckdb")).fetchall()}
    subjects = {s.id: s for s in population.subjects}
    inputs = known_inputs(population.records, population.events, population.links, subjects,
                          known, [])
    ctx = view_on(policy, subjects, inputs, as_of, warnings=[])
    engine = {}
    for d in days:
        scheme = policy.at(d).schemes.get("sat.tax_credit")
        if scheme is None:
            continue
        for sid in subjects:
            r = published_rating(ctx, scheme, sid, on=d)
            if r is not None:
                engine[(d, sid)] = (r.score, r.band_grade, r.grade, r.records, r.assessed_on,
                                    r.reassessed_by)
    assert batch == engine
    assert any(v[-1] for v in engine.values())  # a re-evaluation is among them
