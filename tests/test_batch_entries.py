"""The batch evaluator's list entries and measures (issue 12): compiled into SQL, run on
DuckDB over a population folder, equal row for row to the per-subject engine's
``Standing.entries`` and ``Standing.measures`` on every subject, on boundary dates."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import ErrorLevel

from xinyong.dataset import Dataset
from xinyong.engine.batch import Plan, Unsupported, compile_plan
from xinyong.engine.batch.compile import measures_over
from xinyong.engine.batch.entries import grade_free
from xinyong.engine.batch.plan import Table
from xinyong.files import load_policy
from xinyong.model import DueProcess, EventKind, Link, LinkRole, Record, RecordEvent, Subject
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.sim.parquet import write_population
from xinyong.sim.population import Population, generate
from xinyong.standings import standings
from xinyong.standings.evaluation import assess

INPUTS = ("subjects", "links", "records", "events")
DATES = (
    date(2019, 12, 15), date(2019, 12, 16),  # the court list's 2019 version (grace) begins
    date(2020, 1, 24),  # the Covid window opens
    date(2020, 2, 29),  # a month end: grace P1M from Jan 31 ends here
    date(2021, 2, 9), date(2021, 2, 19), date(2021, 2, 20),  # Spring Festival, make-up Sat
    date(2021, 10, 15),  # three years on the abnormal operations list reached
    date(2022, 2, 28),  # two-year ends from Feb 29
    date(2022, 12, 31), date(2023, 1, 1),  # the Covid window closes (exclusive end)
    date(2023, 2, 1), date(2025, 12, 31),
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


class _Facts:
    """Records, events and links added to a generated population, each construct on its
    boundary dates."""

    def __init__(self, pop: Population) -> None:
        self.template = pop.records[0]
        self.records: list[Record] = []
        self.events: list[RecordEvent] = []
        self.links: list[Link] = []

    def record(self, subject: str, category: str, effective: date, *, late: int = 0,
               amounts: dict[str, str] | None = None) -> str:
        rid = f"BR{len(self.records):04d}"
        self.records.append(dataclasses.replace(
            self.template, id=rid, subject=subject, category=category, act_date=effective,
            effective=effective, amounts={k: Decimal(v) for k, v in (amounts or {}).items()},
            recorded_at=datetime.combine(effective + timedelta(days=late), time(12))))
        return rid

    def event(self, record: str, kind: EventKind, effective: date, **amounts: str) -> None:
        self.events.append(RecordEvent(
            f"BV{len(self.events):04d}", record, kind, effective,
            datetime.combine(effective, time(9)), amounts={k: Decimal(v)
                                                             for k, v in amounts.items()}))


def _exercised(pop: Population) -> Population:
    people = [s for s in pop.subjects if s.kind.value == "person"]
    firms = [s for s in pop.subjects if s.kind.value == "enterprise"]
    f = _Facts(pop)
    p, e = iter(people), iter(firms)
    # court list: the version change on 2019-12-16 (before: no grace; from: P1M)
    f.record(next(p).id, "judicial.debtor.refuses_to_perform", date(2019, 12, 15))
    f.record(next(p).id, "judicial.debtor.refuses_to_perform", date(2019, 12, 16))
    # performed before the 2021 Spring Festival (Feb 11-17), the make-up Sunday Feb 7 and
    # Saturday Feb 20 counting as working days
    for performed in (date(2021, 2, 5), date(2021, 2, 10), date(2021, 2, 19)):
        rid = f.record(next(p).id, "judicial.debtor.refuses_to_perform", date(2020, 12, 1))
        f.event(rid, EventKind.RECTIFIED, performed)
    # performed during the grace: ended before it was ever published
    rid = f.record(next(p).id, "judicial.debtor.obstructs_enforcement", date(2021, 1, 20))
    f.event(rid, EventKind.RECTIFIED, date(2021, 2, 1))
    # repeated acts on month ends: grace to Feb 29, two years, one more per earlier act
    repeat = next(p).id
    for d in (date(2019, 11, 30), date(2020, 1, 31), date(2020, 3, 31), date(2020, 5, 31),
              date(2020, 8, 31), date(2020, 10, 31)):
        f.record(repeat, "judicial.debtor.evades_enforcement", d)
    # firms on the court list: their legal representatives get the extended measures;
    # one link ends and one begins on a boundary
    for k, listed in enumerate((date(2020, 6, 30), date(2021, 1, 19), date(2019, 6, 1))):
        firm = next(e)
        rid = f.record(firm.id, "judicial.debtor.refuses_to_perform", listed)
        if k == 0:
            f.event(rid, EventKind.RECTIFIED, date(2022, 12, 30))
        party = next(p).id
        f.links.append(Link(firm.id, party, LinkRole.LEGAL_REPRESENTATIVE,
                            date(2019, 1, 1) if k != 1 else date(2021, 2, 20),
                            date(2021, 2, 20) if k == 0 else None))
        f.record(firm.id, "judicial.debtor.breach_spending_order", listed + timedelta(days=3))
    # a revoked record and one recorded late (unknown on the as-of days before)
    rid = f.record(next(p).id, "judicial.debtor.refuses_to_perform", date(2020, 3, 1))
    f.event(rid, EventKind.REVOKED, date(2021, 2, 20))
    f.record(next(p).id, "judicial.debtor.evades_enforcement", date(2021, 2, 1), late=19)
    # Zhengzhou and Shenzhen: local lists for their residents only
    zz = next(s for s in people if s.region.startswith("4101"))
    f.record(zz.id, "judicial.debtor.refuses_to_perform", date(2019, 3, 1))
    sz = next(s for s in people if s.region.startswith("4403"))
    for d in (date(2021, 1, 20), date(2021, 1, 31), date(2022, 1, 31)):
        f.record(sz.id, "shenzhen.traffic.pedestrian_signal_penalty", d)
    # abnormal operations; three years on it leads to the serious illegal list (from
    # 2021-09-01), whose repair needs a year; repairs too early are ignored
    abnormal = "commercial.annual_report.missing"
    f.record(next(e).id, abnormal, date(2018, 6, 30))  # reached before the rule: nothing
    rid = f.record(next(e).id, abnormal, date(2018, 10, 15))
    f.event(rid, EventKind.REPAIRED, date(2022, 5, 1))
    f.event(rid, EventKind.REPAIRED, date(2022, 10, 15))
    rid = f.record(next(e).id, abnormal, date(2018, 3, 1))
    f.event(rid, EventKind.RECTIFIED, date(2021, 1, 15))
    rid = f.record(next(e).id, "commercial.violation.serious", date(2022, 1, 10))
    f.event(rid, EventKind.REPAIRED, date(2023, 1, 10))
    # Covid relief: six months' grace only for firms certified in difficulty within a year
    relief: list[tuple[date | None, date, date | None]] = [
        (date(2020, 3, 1), date(2020, 6, 15), None), (None, date(2020, 6, 15), None),
        (date(2020, 3, 1), date(2021, 3, 1), None), (date(2020, 3, 1), date(2021, 2, 28), None),
        (date(2020, 3, 1), date(2020, 6, 15), date(2020, 10, 1)),
        (date(2019, 12, 1), date(2020, 1, 23), None)]
    for cert, listed, done in relief:
        certified = next(e).id
        if cert is not None:
            f.record(certified, "commercial.covid.difficulty_certified", cert)
        rid = f.record(certified, abnormal, listed)
        if done is not None:
            f.event(rid, EventKind.RECTIFIED, done)
    # tax: both amount tests (100000 and a tenth of the tax payable), after corrections
    for evaded, payable, fix in (("150000", "1000000", None), ("150000", "2000000", None),
                                 ("150000", "1000000", "50000"), ("90000", "500000", "120000"),
                                 ("150000", None, None)):
        firm = next(e)
        amounts = {"tax_evaded": evaded} | ({"tax_payable": payable} if payable else {})
        rid = f.record(firm.id, "tax.evasion", date(2020, 2, 29), amounts=amounts)
        if fix is not None:
            f.event(rid, EventKind.CORRECTED, date(2021, 2, 19), tax_evaded=fix)
        f.links.append(Link(firm.id, next(p).id, LinkRole.RESPONSIBLE_PERSON, date(2019, 1, 1)))
    # Covid black and red lists, and the model-trustworthy red list
    f.record(next(p).id, "covid.quarantine_order.violated", date(2020, 2, 1))
    f.record(next(p).id, "covid.donation", date(2022, 6, 1))
    f.record(next(p).id, "government.honour.model_trustworthy", date(2019, 6, 1))
    return dataclasses.replace(pop, records=(*pop.records, *f.records),
                               events=(*pop.events, *f.events), links=(*pop.links, *f.links))


@pytest.fixture(scope="module")
def population(policy: Policy) -> Population:
    return _exercised(generate(policy, seed=12, persons=200, enterprises=60))


@pytest.fixture(scope="module")
def folder(population: Population, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop")
    write_population(population, out)
    return out


def _run(plan: Plan, folder: Path, output: str,
         confirmed: frozenset[str] | None = None) -> list[tuple[Any, ...]]:
    """The harness: the population's Parquet files as the input views, the plan's own
    tables registered beside them, the checks (with the entries) and one output query run."""
    con = duckdb.connect()
    try:
        for t in INPUTS:
            path = str(folder / f"{t}.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
        tables = dict(plan.tables)
        if confirmed is not None:
            tables["confirmed"] = Table(
                (("key", "VARCHAR"),), [(k,) for k in sorted(confirmed)])
        for name, table in tables.items():
            cols = [c for c, _ in table.columns]
            con.register(f"{name}_rows", pa.table(
                {c: [r[i] for r in table.rows] for i, c in enumerate(cols)}))
            con.execute(f"CREATE TABLE {name} AS SELECT " + ", ".join(
                f'CAST("{c}" AS {t}) AS "{c}"' for c, t in table.columns) + f" FROM {name}_rows")
        for check, query in plan.checks.items() if output == "entries" else ():
            assert con.sql(query.sql(dialect="duckdb")).fetchall() == [], check
        return con.sql(plan.sql(output)).fetchall()
    finally:
        con.close()


def _entry_rows(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter((*r[:9], tuple(r[9])) for r in rows)


def _engine(standings_: dict[str, Any], lists: tuple[str, ...]) -> tuple[
        Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    entries = Counter(
        (e.key, e.list, e.rule, e.subject, e.listed_on, e.start, e.planned_end, e.end,
         e.status.value, e.records)
        for st in standings_.values() for e in st.entries if e.list in lists)
    measures = Counter(
        (sid, m.measure, m.kind, m.effect, m.clause, m.memorandum,
         m.via[0] if m.via else None, m.listed_subject, m.entry.list, m.entry.key,
         m.pending_review)
        for sid, st in standings_.items() for m in st.measures if m.entry.list in lists)
    return entries, measures


def _dates() -> Iterator[tuple[date, datetime | None]]:
    for d in DATES:
        yield d, None
    yield date(2021, 2, 19), datetime(2021, 2, 10, 12)  # known-at before the late record


Rows = dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def batch(policy: Policy, folder: Path) -> dict[tuple[date, datetime | None], Rows]:
    """The batch outputs per (as-of, known-at), run once for the tests that read them."""
    out: dict[tuple[date, datetime | None], Rows] = {}
    for as_of, known_at in _dates():
        plan = compile_plan(policy, as_of, known_at=known_at,
                            lists=grade_free(policy.at(as_of)), outputs=("entries", "measures"))
        out[(as_of, known_at)] = {o: _run(plan, folder, o) for o in ("entries", "measures")}
    return out


@pytest.mark.parametrize(("as_of", "known_at"), list(_dates()), ids=str)
def test_entries_and_measures_equal_the_engine_on_every_subject(
        policy: Policy, population: Population, batch: dict[tuple[date, datetime | None], Rows],
        as_of: date, known_at: datetime | None) -> None:
    lists = grade_free(policy.at(as_of))
    data = Dataset(population.subjects, population.links, population.records,
                   population.events)
    entries, measures = _engine(standings(data, policy, population.subjects, as_of,
                                          known_at), lists)
    rows = batch[(as_of, known_at)]
    assert _entry_rows(rows["entries"]) == entries
    assert Counter(rows["measures"]) == measures


def test_the_comparison_exercises_every_construct(
        batch: dict[tuple[date, datetime | None], Rows]) -> None:
    """Across the dates, the equal rows include every status, grace, extension, held_for,
    repairs, working-day ends, the local lists and extended measures."""
    seen: set[str] = set()
    for rows in batch.values():
        for r in rows["entries"]:
            _, lst, rule, _, listed_on, start, planned, end, status, _ = r
            seen.add(f"status:{status}")
            seen.add(f"list:{lst}")
            if start != listed_on:
                seen.add("grace")
            if rule == "spc.dishonest_debtors.conduct" and planned and start \
                    and planned > Period(years=2).after(start) + timedelta(days=3):
                seen.add("extension")
            if end is not None and planned is None and status == "ended":
                seen.add("ended early")
        for m in rows["measures"]:
            if m[6] is not None:
                seen.add(f"via:{m[6]}")
    for want in ("status:pending", "status:active", "status:ended", "grace", "extension",
                 "ended early", "list:samr.serious_illegal", "list:zhengzhou.caller_notice_debtors",
                 "list:shenzhen.jaywalkers_displayed", "list:sat.major_violation",
                 "list:covid.blacklist", "list:covid.redlist", "via:legal_representative",
                 "via:responsible_person"):
        assert want in seen, want


def test_a_debtor_performing_before_the_spring_festival_leaves_on_the_third_working_day(
        policy: Policy, population: Population, folder: Path) -> None:
    """Worked by hand: a debtor listed for refusing to perform (record effective
    2020-12-01, the 2019 version: one month's grace, so published 2021-01-01) performs on
    Wednesday 2021-02-10. Feb 11-17 is the Spring Festival holiday; Thursday 18 and Friday
    19 are working days 1 and 2, and Saturday 20 is a make-up working day: day 3. The
    entry ends on 2021-02-20: active on the 19th, ended on the 20th."""
    rid = next(r.id for r in population.records if r.id.startswith("BR")
               and r.effective == date(2020, 12, 1) and any(
                   e.record == r.id and e.effective == date(2021, 2, 10)
                   for e in population.events))
    subject = next(r.subject for r in population.records if r.id == rid)
    for as_of, status in ((date(2021, 2, 19), "active"), (date(2021, 2, 20), "ended")):
        plan = compile_plan(policy, as_of, lists=["spc.dishonest_debtors"],
                            outputs=("entries",))
        rows = [r for r in _run(plan, folder, "entries") if r[3] == subject]
        assert rows == [(f"spc.dishonest_debtors:{subject}:2021-01-01:{rid}",
                         "spc.dishonest_debtors", "spc.dishonest_debtors.refusal", subject,
                         date(2020, 12, 1), date(2021, 1, 1), None, date(2021, 2, 20), status,
                         [rid])]


def test_due_process_marks_significant_measures_of_unconfirmed_entries(
        policy: Policy, population: Population, folder: Path) -> None:
    as_of = date(2021, 2, 19)
    lists = grade_free(policy.at(as_of))
    plain = compile_plan(policy, as_of, lists=lists, outputs=("entries",))
    keys = sorted({r[0] for r in _run(plain, folder, "entries") if r[8] == "active"})
    confirmed = frozenset(keys[::2])
    assert confirmed and len(confirmed) < len(keys)
    plan = compile_plan(policy, as_of, lists=lists, outputs=("measures",), due_process=True)
    batch = Counter(_run(plan, folder, "measures", confirmed))
    data = Dataset(population.subjects, population.links, population.records,
                   population.events)
    hoods = data.neighbourhoods(population.subjects, max(1, policy.at(as_of).max_path))
    due = DueProcess(frozenset(), confirmed, None)
    engine = {sid: assess(policy, h, as_of, None, due) for sid, h in hoods.items()}
    assert batch == _engine(engine, lists)[1]
    assert any(r[-1] for r in batch) and not all(r[-1] for r in batch)


def test_every_list_in_force_compiles(policy: Policy) -> None:
    """Grade-triggered lists included (through the grade runs): nothing is left out."""
    for as_of in (date(2012, 6, 30), date(2022, 6, 30), date(2025, 12, 31)):
        plan = compile_plan(policy, as_of, outputs=("entries", "measures"))
        assert plan.lists == tuple(_in_force(policy, as_of))


@pytest.mark.parametrize("as_of", [date(2012, 6, 30), date(2022, 6, 30), date(2025, 12, 31)],
                         ids=str)
def test_grade_triggered_entries_and_measures_equal_the_engine(
        policy: Policy, population: Population, folder: Path, as_of: date) -> None:
    """The lists a grade triggers (runs of a grade under a scheme, the tax rating's published
    grade A once, on 2022-06-30: its plan is the largest), on every subject."""
    lists = tuple(x for x in _in_force(policy, as_of) if x not in grade_free(policy.at(as_of))
                  and (x != "sat.grade_a" or as_of == date(2022, 6, 30)))
    assert lists
    plan = compile_plan(policy, as_of, lists=lists, outputs=("entries", "measures"))
    data = Dataset(population.subjects, population.links, population.records,
                   population.events)
    engine = _engine(standings(data, policy, population.subjects, as_of), lists)
    assert Counter(_entry_rows(_run(plan, folder, "entries"))) == engine[0]
    assert Counter(_run(plan, folder, "measures")) == engine[1]


def test_unknown_list_is_refused(policy: Policy) -> None:
    with pytest.raises(Unsupported, match="no rule in force"):
        compile_plan(policy, date(2022, 6, 30), lists=["no.such_list"], outputs=("entries",))


def test_the_plan_transpiles_to_spark_without_loss(policy: Policy) -> None:
    as_of = date(2023, 2, 1)
    plan = compile_plan(policy, as_of, lists=grade_free(policy.at(as_of)),
                        outputs=("entries", "measures"), due_process=True)
    for output in ("entries", "measures"):
        sql = plan.outputs[output].sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
        assert "ARRAY_AGG" not in sql.upper()
        sqlglot.transpile(plan.sql(output), read="duckdb", write="spark",
                          unsupported_level=ErrorLevel.RAISE)


def test_measures_are_not_computed_when_not_asked_for(policy: Policy) -> None:
    as_of = date(2023, 2, 1)
    plan = compile_plan(policy, as_of, lists=grade_free(policy.at(as_of)),
                        outputs=("entries",))
    assert set(plan.outputs) == {"entries"}
    assert "list_bindings" not in plan.sql("entries")


def test_performance_before_the_calendar_is_a_check(policy: Policy,
                                                    population: Population,
                                                    tmp_path: Path) -> None:
    subject: Subject = next(s for s in population.subjects if s.kind.value == "person")
    f = _Facts(population)
    rid = f.record(subject.id, "judicial.debtor.refuses_to_perform", date(1940, 1, 1))
    f.event(rid, EventKind.RECTIFIED, date(1940, 2, 1))
    pop = dataclasses.replace(population, records=(*population.records, *f.records),
                              events=(*population.events, *f.events))
    write_population(pop, tmp_path)
    plan = compile_plan(policy, date(2021, 1, 1), lists=["spc.dishonest_debtors"],
                        outputs=("entries",))
    with pytest.raises(AssertionError, match="performed_before_calendar"):
        _run(plan, tmp_path, "entries")


def test_grade_triggered_entries_read_the_grade_runs_interface(
        policy: Policy, population: Population, folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Against ``runs.grade_runs``'s documented columns (subject, start, end, grade,
    records), here a table of runs given by hand: an entry per run of a triggering grade,
    listed on the first day of the run a version of the rule is in force (sat.grade_a:
    from 2014-10-01), ending with the run; runs of other grades, of other subject kinds or
    ended before the rule give nothing."""
    from xinyong.engine.batch import runs
    from xinyong.engine.batch.build import Build

    def given(b: Build, scheme: str) -> str:
        return b.cte(f"runs_{scheme.replace('.', '_')}", exp.select(
            "subject", "start", exp.column("end", quoted=True), "grade", "records").from_(
            "given_runs").where(exp.EQ(this=exp.column("scheme"),
                                       expression=exp.Literal.string(scheme))))

    monkeypatch.setattr(runs, "grade_runs", given)
    firms = [s.id for s in population.subjects if s.kind.value == "enterprise"][-3:]
    person = next(s.id for s in population.subjects if s.kind.value == "person")
    scheme = "sat.tax_credit"
    given_runs = [
        (firms[0], date(2013, 1, 1), date(2015, 1, 1), "A", ["R1", "R2"]),
        (firms[0], date(2016, 1, 1), None, "A", ["R3"]),
        (firms[1], date(2016, 1, 1), None, "B", []),
        (firms[2], date(2012, 1, 1), date(2014, 6, 1), "A", []),
        (person, date(2016, 1, 1), None, "A", []),
    ]
    as_of = date(2022, 6, 30)
    plan = compile_plan(policy, as_of, lists=["sat.grade_a"], outputs=("entries",))
    tables = dict(plan.tables)
    tables["given_runs"] = Table(
        (("scheme", "VARCHAR"), ("subject", "VARCHAR"), ("start", "DATE"), ("end", "DATE"),
         ("grade", "VARCHAR"), ("records", "VARCHAR[]")),
        [(scheme, *r) for r in given_runs])
    rows = _run(dataclasses.replace(plan, tables=tables), folder, "entries")
    assert sorted(rows) == sorted([
        (f"sat.grade_a:{firms[0]}:2014-10-01:R1+R2", "sat.grade_a", "sat.grade_a", firms[0],
         date(2014, 10, 1), date(2014, 10, 1), None, date(2015, 1, 1), "ended", ["R1", "R2"]),
        (f"sat.grade_a:{firms[0]}:2016-01-01:R3", "sat.grade_a", "sat.grade_a", firms[0],
         date(2016, 1, 1), date(2016, 1, 1), None, None, "active", ["R3"]),
    ])


def test_measures_over_stored_entries_equal_the_plan_s(policy: Policy, folder: Path) -> None:
    """The runner may store the entries and compute measures from them (cheaper than
    computing the entries twice): the rows are the same."""
    as_of = date(2021, 2, 19)
    lists = grade_free(policy.at(as_of))
    plan = compile_plan(policy, as_of, lists=lists, outputs=("entries", "measures"))
    over = measures_over(policy, as_of, "stored_entries", lists=lists)
    con = duckdb.connect()
    try:
        for t in INPUTS:
            path = str(folder / f"{t}.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
        for name, table in {**plan.tables, **over.tables}.items():
            cols = [c for c, _ in table.columns]
            con.register(name, pa.table({c: [r[i] for r in table.rows]
                                         for i, c in enumerate(cols)}))
        con.execute("CREATE TABLE stored_entries AS " + plan.sql("entries"))
        stored = Counter(con.sql(over.sql("measures")).fetchall())
        direct = Counter(con.sql(plan.sql("measures")).fetchall())
    finally:
        con.close()
    assert stored == direct and stored


def _random_facts(policy: Policy, pop: Population, seed: int) -> Population:
    """Seeded random facts on top of a generated population: records of every list trigger
    category (tax evasion with amounts) on random days, some recorded late, with random
    performances, repairs (valid or too early), revocations and corrections, and links of
    every role that begin and end."""
    rng = random.Random(seed)
    f = _Facts(pop)
    by_kind: dict[str, set[str]] = {}
    for rule in policy.all("list_rule"):
        for k in rule.subject_kinds:
            by_kind.setdefault(k.value, set()).update(rule.trigger.categories)
    by_kind["enterprise"].add("commercial.covid.difficulty_certified")

    def some_day(first: date, span: int) -> date:
        return first + timedelta(days=rng.randrange(span))

    subjects = [s for s in pop.subjects if s.kind.value in by_kind]
    for s in rng.sample(subjects, min(120, len(subjects))):
        for _ in range(rng.randint(1, 4)):
            cat = rng.choice(sorted(by_kind[s.kind.value]))
            eff = some_day(date(2013, 1, 1), 4800)
            amounts = {"tax_evaded": str(rng.choice((50000, 100000, 150000))),
                       "tax_payable": str(rng.choice((500000, 1000000, 2000000)))
                       } if cat == "tax.evasion" else None
            rid = f.record(s.id, cat, eff, late=rng.choice((0, 0, 0, 5, 40)), amounts=amounts)
            for kind, chance, span in ((EventKind.RECTIFIED, 0.5, 500),
                                       (EventKind.REPAIRED, 0.4, 1500),
                                       (EventKind.REPAIRED, 0.4, 1500),
                                       (EventKind.REVOKED, 0.1, 900)):
                if rng.random() < chance:
                    f.event(rid, kind, eff + timedelta(days=rng.randrange(span)))
            if amounts and rng.random() < 0.5:
                f.event(rid, EventKind.CORRECTED, eff + timedelta(days=rng.randrange(700)),
                        tax_evaded=str(rng.choice((50000, 150000))))
    orgs = [s.id for s in pop.subjects if s.kind.value != "person"]
    everyone = [s.id for s in pop.subjects]
    for _ in range(80):
        start = some_day(date(2015, 1, 1), 3000)
        end = start + timedelta(days=rng.randrange(1, 2000)) if rng.random() < 0.5 else None
        f.links.append(Link(rng.choice(orgs), rng.choice(everyone), rng.choice(list(LinkRole)),
                            start, end))
    return dataclasses.replace(pop, records=(*pop.records, *f.records),
                               events=(*pop.events, *f.events), links=(*pop.links, *f.links))


@pytest.mark.parametrize("seed", [1, 2])
def test_random_populations_equal_the_engine(policy: Policy, seed: int,
                                             tmp_path: Path) -> None:
    pop = _random_facts(policy, generate(policy, seed=seed, persons=150, enterprises=60), seed)
    write_population(pop, tmp_path)
    data = Dataset(pop.subjects, pop.links, pop.records, pop.events)
    rng = random.Random(seed)
    compared = Counter[str]()
    for first in (date(2016, 1, 1), date(2019, 6, 1), date(2022, 6, 1)):  # a day in each
        as_of = first + timedelta(days=rng.randrange(1000))
        lists = grade_free(policy.at(as_of))
        plan = compile_plan(policy, as_of, lists=lists, outputs=("entries", "measures"))
        entries, measures = _engine(standings(data, policy, pop.subjects, as_of), lists)
        assert _entry_rows(_run(plan, tmp_path, "entries")) == entries, as_of
        assert Counter(_run(plan, tmp_path, "measures")) == measures, as_of
        compared.update(entries=entries.total(), measures=measures.total())
    assert compared["entries"] and compared["measures"]  # the comparison is not empty


def _in_force(policy: Policy, as_of: date) -> list[str]:
    return sorted({r.list_id for r in policy.at(as_of).list_rules.values()})
