"""The study's figures (``xinyong sim study``), computed apart from their printing: the dates
studied, and what is counted on each, on a population worked out by hand."""

from __future__ import annotations

from datetime import date

from builders import person, record
from xinyong.pilot.study import snapshots, study
from xinyong.policy.model import Policy
from xinyong.sim.population import AttributeTable, Population

SUINING, COVID = date(2012, 6, 30), date(2021, 6, 30)
DEBTORS = "spc.dishonest_debtors"


def test_the_dates_studied_are_the_moments_before_the_final_date_then_it() -> None:
    assert snapshots(date(2025, 12, 31)) == [SUINING, COVID, date(2025, 12, 31)]
    assert snapshots(date(2015, 1, 1)) == [SUINING, date(2015, 1, 1)]
    assert snapshots(SUINING) == [SUINING]  # a moment on the final date is studied once


def test_a_refusing_debtor_is_counted_from_its_listing_and_explained(policy: Policy) -> None:
    # P1 refuses to perform a judgment from 2020-01-01: listed (2019 rule: one month's grace,
    # no listing period, nothing performed), so on the black list in 2021 and at the end, not in
    # 2012; P2 has no record.
    p1, p2 = person("P1"), person("P2")
    pop = Population(
        subjects=(p1, p2), links=(), events=(),
        records=(record("R1", "P1", "judicial.debtor.refuses_to_perform", date(2020, 1, 1)),),
        attributes=AttributeTable(("P1", "P2"), (True, True), (True, True)), seed=0,
        start=date(2010, 1, 1), end=date(2025, 12, 31), policy_digest="")
    passes: list[date] = []

    def progress(subjects: tuple[object, ...], on: date) -> tuple[object, ...]:
        passes.append(on)
        return subjects

    dates = snapshots(date(2025, 12, 31))
    figures = study(policy, pop, dates, progress)  # type: ignore[arg-type]
    assert passes == dates and figures.dates == dates
    assert [figures.lists[DEBTORS, d] for d in dates] == [0, 1, 1]
    assert figures.measures and set(figures.measures.values()) == {1}  # P1's alone
    assert figures.example is not None and figures.example.subject.id == "P1"
    assert figures.example.as_of == date(2025, 12, 31)
