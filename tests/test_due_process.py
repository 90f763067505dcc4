"""Due process on the ledger (SQLite and PostgreSQL): objections, the retraction cascade,
credit repair, human review and tick — the issue's worked examples, worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest

from builders import Clock, firm, link, person, record
from xinyong.engine import decide
from xinyong.ledger.cases import load
from xinyong.ledger.store import Batch, Ledger
from xinyong.model import Effect
from xinyong.policy.model import Policy
from xinyong.process.cases import CaseError
from xinyong.process.workflow import (
    apply_for_repair,
    file_objection,
    notices,
    rectify,
    resolve,
    tick,
)
from xinyong.standings import standing

REFUSES = "judicial.debtor.refuses_to_perform"
AIR = "transport.air.ticket"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 1, 10, 9))


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url, clock=clock)
    yield led
    led.dispose()


E1, P1 = firm("E1", "深圳某某科技有限公司"), person("P1", "李四")


def _air(ledger: Ledger, policy: Policy, who: str, day: date) -> Effect:
    st = standing(ledger, policy, ledger.resolve(who, policy), day)
    return decide(st, AIR).effect


def _confirm_reviews(ledger: Ledger, policy: Policy) -> list[str]:
    tick(ledger, policy)
    done = []
    for case in load(ledger, kind="review"):
        if case.open:
            resolve(ledger, policy, case.id, "confirmed", "the court's decision was checked",
                    "reviewer:王芳")
            done.append(case.target)
    return done


def test_a_wrong_judgment_that_reached_the_legal_representative_is_withdrawn(
        policy: Policy, ledger: Ledger, clock: Clock) -> None:
    """A court records R1 against firm E1 (10 Jan 2024). Under the 2016 memorandum the
    air-ticket ban reaches E1's legal representative P1 after a month's grace (10 Feb), once a
    reviewer has confirmed it (significant measure). P1 objects on 20 Feb; the objection is
    upheld on 1 March: R1 is revoked from that day, on E1 and on P1."""
    ledger.write(Batch(subjects=[E1, P1], links=[link("E1", "P1", "legal_representative")],
                       records=[record("R1", "E1", REFUSES, date(2024, 1, 10))]))
    assert _air(ledger, policy, "P1", date(2024, 2, 12)) is Effect.REVIEW  # nobody confirmed
    clock.set(datetime(2024, 2, 12, 9))
    assert _confirm_reviews(ledger, policy) == ["spc.dishonest_debtors:E1:2024-02-10:R1"]
    assert _air(ledger, policy, "P1", date(2024, 2, 15)) is Effect.DENY

    # the legal representative objects to the firm's record
    clock.set(datetime(2024, 2, 20, 10))
    case = file_objection(ledger, policy, P1, "record:R1", "the judgment names another firm")
    assert (case.id, case.status, case.subject, case.filed_by, case.deadline) == (
        "OBJ-000001", "filed", "E1", "legal_representative:P1", date(2024, 3, 11))
    st = standing(ledger, policy, P1, date(2024, 2, 21))
    d = decide(st, AIR)
    assert d.effect is Effect.DENY  # disputing does not suspend by itself
    assert [r.disputed for r in d.reasons] == [("record:R1",)]
    assert "record:R1" in st.disputed

    # before the upheld objection: which agency applied what, resting on R1, to whom
    applied = {(m.applied_by, s, m.measure)
               for s in ("E1", "P1")
               for m in standing(ledger, policy, ledger.resolve(s, policy),
                                        date(2024, 3, 1)).measures if "R1" in m.entry.records}
    assert ("caac", "P1", AIR) in applied

    clock.set(datetime(2024, 2, 25, 9))
    resolve(ledger, policy, case.id, "under_review", "", "reviewer:李明")
    clock.set(datetime(2024, 3, 1, 9))
    res = resolve(ledger, policy, case.id, "upheld", "the court confirmed the error",
                  "reviewer:李明")
    assert res.case.status == "upheld" and res.revoked == ["R1"]

    # from 1 March nothing rests on R1, on the firm or on its representative
    assert _air(ledger, policy, "P1", date(2024, 3, 1)) is Effect.ALLOW
    for who in ("E1", "P1"):
        st = standing(ledger, policy, ledger.resolve(who, policy), date(2024, 3, 2))
        assert not [m for m in st.measures if m.kind != "reward"]
        assert not [e for e in st.entries if "R1" in e.records] and not st.disputed
    # the past is not rewritten: on 15 Feb the ban was in force, as known then and now
    assert _air(ledger, policy, "P1", date(2024, 2, 15)) is Effect.DENY

    # a correction notice to every agency that applied a measure resting on R1
    corrections = {(n["recipient"].removeprefix("agency:"), n["subject"], n["body"]["measure"])
                   for n in notices(ledger) if n["kind"] == "correction"}
    assert corrections == applied
    decision = [n for n in notices(ledger) if n["kind"] == "decision"]
    assert [(n["recipient"], n["body"]["outcome"]) for n in decision] == [
        ("legal_representative:P1", "upheld")]
    assert ledger.verify().ok


def test_credit_repair_one_day_early_is_refused_one_day_after_is_granted(
        policy: Policy, ledger: Ledger, clock: Clock) -> None:
    """An administrative penalty on a firm (NDRC Order 58): displayed at least 3 months, at
    most 3 years. Effective 15 Jan 2024, repair is possible from 15 Apr 2024."""
    e2 = firm("E2", "北京某某贸易有限公司")
    clock.set(datetime(2024, 1, 15, 9))
    ledger.write(Batch(subjects=[e2], records=[
        record("A1", "E2", "admin.penalty.general", date(2024, 1, 15), agency="samr"),
        record("A2", "E2", "admin.penalty.general", date(2024, 1, 15), agency="samr")]))

    clock.set(datetime(2024, 4, 14, 9))
    early = apply_for_repair(ledger, policy, e2, "record:A1", "fine paid, rectified")
    assert early.status == "refused" and early.detail["possible_from"] == "2024-04-15"

    clock.set(datetime(2024, 4, 16, 9))
    case = apply_for_repair(ledger, policy, e2, "record:A1", "fine paid, rectified")
    assert case.status == "applied"
    with pytest.raises(CaseError, match="needs written reasons"):
        resolve(ledger, policy, case.id, "refused", "", "reviewer:王芳")
    res = resolve(ledger, policy, case.id, "granted", "rectification verified",
                  "reviewer:王芳")
    assert res.repaired == ["A1"]

    def shown(day: date) -> set[str]:
        return {d.record for d in standing(ledger, policy, e2, day).displayed}

    assert shown(date(2024, 4, 15)) == {"A1", "A2"}
    assert shown(date(2024, 4, 16)) == {"A2"}  # repair ends display that day
    # A2, never repaired: Order 58 shows it for up to three years, but from 1 Apr 2026 NDRC
    # Order No. 36 shows general dishonesty information for at most one year, so the
    # two-year-old A2 leaves display that day
    assert shown(date(2026, 3, 31)) == {"A2"} and shown(date(2026, 4, 1)) == set()


def test_objection_deadlines_and_overdue(policy: Policy, ledger: Ledger, clock: Clock) -> None:
    ledger.write(Batch(subjects=[E1, P1], links=[link("E1", "P1", "legal_representative")],
                       records=[record("R1", "E1", REFUSES, date(2024, 1, 10)),
                                record("R2", "P1", REFUSES, date(2024, 1, 10))]))
    clock.set(datetime(2024, 2, 1, 9))
    a = file_objection(ledger, policy, E1, "record:R1", "paid")
    b = file_objection(ledger, policy, P1, "record:R2", "paid", days=30)  # FCRA
    assert (a.deadline, b.deadline) == (date(2024, 2, 21), date(2024, 3, 2))
    with pytest.raises(CaseError, match="already open: OBJ-000001"):
        file_objection(ledger, policy, E1, "record:R1", "again")
    with pytest.raises(CaseError, match="only that subject or its legal representative"):
        file_objection(ledger, policy, E1, "record:R2", "not mine")
    clock.set(datetime(2024, 2, 22, 9))
    assert tick(ledger, policy).overdue_objections == 1  # a is a day late, b is not
    assert [c.id for c in load(ledger, kind="objection") if c.overdue(date(2024, 3, 3))] == [
        "OBJ-000001", "OBJ-000002"]
    with pytest.raises(CaseError, match="only the objector"):
        resolve(ledger, policy, a.id, "withdrawn", "", "subject:P1")
    resolve(ledger, policy, a.id, "withdrawn", "", "subject:E1")
    with pytest.raises(CaseError, match="is withdrawn"):
        resolve(ledger, policy, a.id, "upheld", "late", "reviewer:李明")
    assert not load(ledger, case_id=a.id)[0].overdue(date(2024, 3, 3))


def test_rectification_is_recorded_by_the_competent_agency_only(
        policy: Policy, ledger: Ledger, clock: Clock) -> None:
    ledger.write(Batch(subjects=[P1], records=[record("R2", "P1", REFUSES, date(2024, 1, 10))]))
    clock.set(datetime(2024, 3, 1, 9))
    with pytest.raises(CaseError, match="made by 'courts'"):
        rectify(ledger, "R2", "sat", date(2024, 2, 28))
    with pytest.raises(CaseError, match="in the future"):
        rectify(ledger, "R2", "courts", date(2024, 3, 2))
    rectify(ledger, "R2", "courts", date(2024, 2, 28))  # Wednesday
    # off within 3 working days: Thu 29 Feb, Fri 1, Mon 4 March
    assert standing(ledger, policy, P1, date(2024, 3, 1)).active_entries
    assert not standing(ledger, policy, P1, date(2024, 3, 4)).active_entries


def test_tick_is_idempotent(policy: Policy, ledger: Ledger, clock: Clock) -> None:
    ledger.write(Batch(subjects=[E1, P1], links=[link("E1", "P1", "legal_representative")],
                       records=[record("R1", "E1", REFUSES, date(2024, 1, 10))]))
    clock.set(datetime(2024, 2, 12, 9))
    first = tick(ledger, policy)
    assert first.listing_notices == 1 and first.reviews_opened == 1
    again = tick(ledger, policy)
    assert (again.listing_notices, again.removal_notices, again.reviews_opened) == (0, 0, 0)
    [n] = notices(ledger, subject="E1")
    assert (n["kind"], n["recipient"], n["records"], n["served"]) == (
        "listing", "subject:E1", ["R1"], date(2024, 2, 12))
    assert ledger.verify().ok


def test_an_entry_is_published_only_after_its_notice_is_served(
        policy: Policy, ledger: Ledger, clock: Clock) -> None:
    """The firm's debtor entry starts on 10 Feb (a month's grace after 10 Jan). Until tick
    serves the listing notice, the public portal does not show it; measures are another
    matter (they follow the rules, and human review)."""
    from xinyong.engine.explain import public_view

    ledger.write(Batch(subjects=[E1], records=[record("R1", "E1", REFUSES, date(2024, 1, 10))]))
    clock.set(datetime(2024, 2, 12, 9))

    def black(known: datetime | None = None) -> list[str]:
        st = standing(ledger, policy, E1, date(2024, 2, 12), known)
        return [e["list"] for e in public_view(policy, st)["list_entries"]
                if e["colour"] == "black"]

    assert black() == []
    tick(ledger, policy)
    assert black() == ["spc.dishonest_debtors"]
    # as known before the notice, it was not published: the past is reproduced
    assert black(datetime(2024, 2, 12, 8)) == []


def test_agencies_whose_measure_already_ended_are_corrected_too(
        policy: Policy, ledger: Ledger, clock: Clock) -> None:
    """The debt was performed on 28 Feb, so the entry ended on 4 March; the airline had applied
    the ban to the legal representative from 10 Feb. The record is found wrong later: the
    airline is still told (its past refusals rested on a wrong record)."""
    ledger.write(Batch(subjects=[E1, P1], links=[link("E1", "P1", "legal_representative")],
                       records=[record("R1", "E1", REFUSES, date(2024, 1, 10))]))
    clock.set(datetime(2024, 3, 1, 9))
    rectify(ledger, "R1", "courts", date(2024, 2, 28))
    clock.set(datetime(2024, 3, 10, 9))
    assert not [m for m in standing(ledger, policy, P1, date(2024, 3, 10)).measures]
    case = file_objection(ledger, policy, E1, "record:R1", "never our debt")
    clock.set(datetime(2024, 3, 15, 9))
    resolve(ledger, policy, case.id, "upheld", "wrong firm", "reviewer:李明")
    corrected = {(n["recipient"], n["subject"], n["body"]["measure"]) for n in notices(ledger)
                 if n["kind"] == "correction"}
    assert ("agency:caac", "P1", AIR) in corrected
