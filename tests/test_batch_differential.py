"""The batch evaluator equals the per-subject engine (issue 12, DESIGN §4): on random small
populations over every preset (``batch_populations``), on every subject, scheme, entry and
measure the compiled plan covers, row for row of the output contract.

What is compared is :data:`COVERED`, one constant that grows as constructs land; a covered
construct that does not compile fails the test, and ``test_covered_is_what_compiles`` fails
when the compiler accepts something the constant leaves out (or refuses something in it).
A mismatch names the first differing row, both sides, and the shrunk population."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, seed, settings

from batch_compare import (
    COLUMNS,
    BatchEngine,
    Case,
    Coverage,
    DuckDB,
    Result,
    Row,
    batch_rows,
    compare,
    describe,
    engine_rows,
    engine_standings,
    mismatch,
)
from batch_populations import POPULATIONS as TOGETHER
from batch_populations import boundaries, cases
from xinyong.engine.batch import Unsupported, compile_plan
from xinyong.files import load_policy
from xinyong.policy.model import Policy

POLICY = load_policy()

# lists a grade triggers are compared in test_batch_entries and test_batch_runs instead: their
# plans rate every turning point (the tax rating's is a megabyte of SQL), too slow for 1,000
GRADE_LISTS = frozenset(r.list_id for rules in POLICY.versions["list_rule"].values()
                        for r in rules if r.trigger.scheme is not None)
_LISTS = frozenset(r.list_id for rules in POLICY.versions["list_rule"].values()
                   for r in rules) - GRADE_LISTS
COVERED = Coverage(
    schemes=frozenset(POLICY.versions["scheme"]),
    entries=_LISTS,
    measures=_LISTS,
)
"""What the batch evaluator is compared on: every scheme, and every list not triggered by a
grade, of every preset."""

POPULATIONS = {"duckdb": 1000}
"""Populations per engine (the issue: at least 1,000 on DuckDB in CI, fewer on Spark), rated
:data:`~batch_populations.POPULATIONS` at a time: one example, one query over all of them."""

def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def differential(engine: BatchEngine, populations: int) -> int:
    """Compare ``engine``'s batch output with the engine's on at least ``populations``
    populations; the number compared."""
    rated = [0]

    @_settings(-(-populations // TOGETHER))
    @given(case=cases(POLICY))
    def check(case: Case) -> None:
        report = compare(POLICY, engine, case, COVERED)
        assert report is None, report
        rated[0] += len(case.tags())

    check()
    return rated[0]


def test_batch_equals_the_engine_on_duckdb() -> None:
    want = POPULATIONS["duckdb"]
    assert differential(DuckDB(), want) >= want


# --- the constant is what compiles ---------------------------------------------------------


def _version_days(policy: Policy, section: str, ident: str) -> list[date]:
    return [v.effective_from for v in policy.versions[section].get(ident, ())]


def _compiles(policy: Policy, day: date, **what: object) -> str | None:
    try:
        compile_plan(policy, day, **what)  # type: ignore[arg-type]
    except Unsupported as e:
        return str(e)
    return None


def _accepted(policy: Policy) -> Coverage:
    """What the compiler accepts: the schemes (lists) every version of which compiles, its
    ratings (entries, measures) on the first day of each version."""
    schemes = {i for i in policy.versions["scheme"]
               if all(_compiles(policy, d, schemes=[i], lists=[], outputs=("ratings",)) is None
                      for d in _version_days(policy, "scheme", i))}
    days: dict[str, set[date]] = {}
    for r in policy.all("list_rule"):
        days.setdefault(r.list_id, set()).add(r.effective_from)
    found = {}
    for output in ("entries", "measures"):
        found[output] = frozenset(
            lst for lst, ds in days.items()
            if all(_compiles(policy, d, schemes=[], lists=[lst], outputs=(output,)) is None
                   for d in ds))
    return Coverage(frozenset(schemes), found["entries"], found["measures"])


def test_covered_is_what_compiles() -> None:
    accepted = _accepted(POLICY)
    for what in ("schemes", "entries", "measures"):
        have, can = getattr(COVERED, what), getattr(accepted, what)
        if what != "schemes":
            can = can - GRADE_LISTS  # compared in test_batch_entries (see GRADE_LISTS)
        assert not can - have, (f"the compiler now accepts {sorted(can - have)} ({what}): "
                                "add them to COVERED so the differential test compares them")
        assert not have - can, f"COVERED names {sorted(have - can)} ({what}), which do not compile"


def _refused(policy: Policy) -> tuple[str, date] | None:
    """A scheme the compiler refuses on the first day of one of its versions, if any."""
    for ident in sorted(policy.versions["scheme"]):
        for d in _version_days(policy, "scheme", ident):
            if _compiles(policy, d, schemes=[ident], lists=[], outputs=("ratings",)):
                return ident, d
    return None


def test_a_covered_construct_that_does_not_compile_fails_loudly() -> None:
    refused = _refused(POLICY)
    if refused is None:  # nothing is left to refuse: the constant must then cover everything
        assert set(POLICY.versions["scheme"]) <= COVERED.schemes
        return
    ident, day = refused
    case = Case(day, None, (), (), (), ())
    with pytest.raises(Unsupported, match=ident.split(".")[0]):
        compare(POLICY, DuckDB(), case, Coverage(schemes=COVERED.schemes | {ident}))


# --- the report names the first differing row and the population --------------------------


def _suqian_case() -> Case:
    """Found by the strategies (not written by hand): a population with a Suqian person."""
    found: list[Case] = []

    @seed(12)
    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases(POLICY))
    def pick(case: Case) -> None:
        if not found and any(s.region.startswith("3213") and s.is_person
                             for s in case.subjects) and case.records:
            found.append(case)

    pick()
    assert found, "the strategies never drew a Suqian person with records"
    return found[0]


def _engine_rows(case: Case) -> dict[str, list[Row]]:
    return engine_rows(engine_standings(POLICY, case), COVERED)


def test_a_mismatch_names_the_first_differing_row_and_the_population() -> None:
    """The batch side is the engine's rows with one score changed: the report shows that
    row, the engine's row of the same subject and scheme, and that population alone."""
    case = _suqian_case()
    engine = _engine_rows(case)
    assert mismatch(case, engine, engine) is None
    batch = {o: list(rows) for o, rows in engine.items()}
    before = batch["ratings"][0]
    after = (before[0], before[1], before[2] + Decimal(1), *before[3:])
    batch["ratings"][0] = after
    report = mismatch(case, batch, engine)
    assert report is not None
    assert "ratings: first differing row" in report
    assert f"columns: {', '.join(COLUMNS['ratings'])}" in report
    sides = {ln.split(":", 1)[0].strip(): ln.split(":", 1)[1].strip()
             for ln in report.splitlines() if ln.startswith(("  batch", "  engine"))}
    assert sides["batch"].startswith(f"({after[0]}, {after[1]}, "
                                     f"{format(after[2].normalize(), 'f')}, ")
    assert sides["engine"].startswith(f"({before[0]}, {before[1]}, "
                                      f"{format(before[2].normalize(), 'f')}, ")
    tag = after[0].split("-", 1)[0] + "-"
    assert f"population {tag[0]} (of 10 rated together)" in report
    assert describe(case.part(tag)) in report  # that population alone, not the other nine
    others = [t for t in case.tags() if t != tag]
    assert others and not any(f"subject {t}" in report for t in others)


def test_a_missing_row_is_reported_with_its_identity() -> None:
    case = _suqian_case()
    engine = _engine_rows(case)
    batch = {o: list(rows) for o, rows in engine.items()}
    gone = batch["ratings"].pop(0)
    report = mismatch(case, batch, engine)
    assert report is not None
    assert f"batch : no row for {{'subject': '{gone[0]}', 'scheme': '{gone[1]}'}}" in report


def test_batch_rows_are_the_contract_columns_and_a_missing_one_is_a_mismatch() -> None:
    full = Result(("grade", "subject", "scheme", "score", "band_grade", "reasons"),
                  [("C", "P1", "s", Decimal("95.000000"), "B", ["x", "y"])])
    assert batch_rows({"ratings": full}) == {
        "ratings": [("P1", "s", Decimal(95), "B", "C", ("x", "y"))]}
    short = Result(("subject", "scheme", "score", "grade"), [("P1", "s", Decimal(95), "C")])
    with pytest.raises(AssertionError, match=r"lacks the contract's column\(s\) band_grade, "
                       "reasons"):
        batch_rows({"ratings": short})


def test_the_strategies_reach_every_boundary_kind() -> None:
    """The as-of days hold the Covid window and the court rules of 2019-12-16, ±1; the
    policy's grace, durations, windows and working-day removals give record days."""
    b = boundaries(POLICY)
    for d in (date(2020, 1, 24), date(2023, 1, 1), date(2019, 12, 16)):
        assert {d, d.fromordinal(d.toordinal() - 1), d.fromordinal(d.toordinal() + 1)} <= set(
            b.as_of_days)
    assert b.working_days == (3, 5)
    # spc.dishonest_debtors.conduct: one month's grace, two years, extended a year at a time
    as_of = date(2025, 12, 31)
    assert date(2023, 11, 30) in b.record_days(as_of)  # + P1M + P2Y = 2025-12-30
    # performed on 2025-12-26 (Friday): three working days end on 2025-12-31
    assert date(2025, 12, 26) in b.performed_days(as_of, date(2025, 1, 1))
