"""Documented rules that were missing (issue 10, item 6), worked by hand from the sources.

Each test names the source of its expected values: the OSW report (seed 002), the KKI brief
(seed 000), the 2025-2026 credit-repair rules as reported, or the preset value marked
illustrative.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest

from builders import Clock, event, firm, person, record
from xinyong.engine import decide, evaluate
from xinyong.engine.explain import public_view
from xinyong.ids import make_uscc, validate
from xinyong.ledger.store import Batch, Ledger
from xinyong.model import Effect, EntryStatus, Subject, SubjectKind
from xinyong.policy.schema import Scheme
from xinyong.process.cases import CaseError
from xinyong.process.workflow import apply_for_repair

SUINING = "320324"


def _suining(policy, recs, day=date(2011, 6, 1)):  # type: ignore[no-untyped-def]
    return evaluate(policy, person("P1", region=SUINING), recs, [], [], day)


# --- Suining -------------------------------------------------------------------------------


def test_suining_award_counts_without_deductions(policy) -> None:  # type: ignore[no-untyped-def]
    award = record("W1", "P1", "suining.honours.national_award", date(2011, 1, 10),
                   agency="suining.credit-office")
    r = _suining(policy, [award]).ratings["suining.mass_credit"]
    assert r.score == Decimal(1100)  # 1000 + 100: no ceiling at the starting score
    ticket = record("T1", "P1", "suining.traffic.violation", date(2011, 2, 1),
                    agency="suining.credit-office")
    r = _suining(policy, [award, ticket]).ratings["suining.mass_credit"]
    assert r.score == Decimal(1090) and r.grade == "A"  # 1000 + 100 − 10


def test_suining_grade_a_gets_low_interest_loans(policy) -> None:  # type: ignore[no-untyped-def]
    st = _suining(policy, [])  # 1000 points: A (A from 970)
    assert st.ratings["suining.mass_credit"].grade == "A"
    d = decide(st, "suining.finance.loan.apply")
    assert d.effect is Effect.ALLOW
    assert [(r.measure, r.clause) for r in d.reasons] == [
        ("suining.loans.low_interest", "a-low-interest-loans")]
    jobs = decide(st, "suining.employment.public_job_placement")
    assert [r.measure for r in jobs.reasons] == ["suining.jobs.priority"]


def test_suining_grade_d_faces_labour_market_and_promotion_restrictions(policy) -> None:  # type: ignore[no-untyped-def]
    # 14 loan defaults: 1000 − 420 = 580, grade D (the documented case)
    recs = [record(f"R{i}", "P1", "suining.finance.loan_default", date(2010, 3, 1 + i),
                   agency="suining.finance-office") for i in range(14)]
    st = _suining(policy, recs, date(2010, 6, 1))
    assert st.ratings["suining.mass_credit"].grade == "D"
    jobs = decide(st, "suining.employment.public_job_placement")
    assert jobs.effect is Effect.CONDITIONS
    assert [r.measure for r in jobs.reasons] == ["suining.labour_market.restricted"]
    promo = decide(st, "suining.party.promotion")
    assert promo.effect is Effect.CONDITIONS
    assert [(r.measure, r.applied_by) for r in promo.reasons] == [
        ("suining.promotion.restricted", "suining.party-organisation")]
    assert decide(st, "suining.finance.loan.apply").reasons == ()  # no loans for D


# --- Rongcheng -----------------------------------------------------------------------------


def _rongcheng(policy, recs, day):  # type: ignore[no-untyped-def]
    return evaluate(policy, person("P1", region="371082"), recs, [], [], day).ratings[
        "rongcheng.points"]


def test_rongcheng_drunk_driving_is_at_most_c_so_a_d_stays_d(policy) -> None:  # type: ignore[no-untyped-def]
    # 9 court judgments not performed: 1000 − 9 × 50 = 550, below C (600): D
    recs = [record(f"J{i}", "P1", "rongcheng.judicial.judgment_not_performed",
                   date(2019, 1, 2 + i), agency="rongcheng.credit-office") for i in range(9)]
    drunk = record("D1", "P1", "rongcheng.traffic.drunk_driving", date(2019, 2, 1),
                   agency="rongcheng.public-security")
    r = _rongcheng(policy, [*recs, drunk], date(2019, 6, 1))
    assert r.score == Decimal(550) and r.grade == "D"
    assert [(a.rule, a.kind, a.grade) for a in r.adjustments] == [("drunk_driving", "at_most", "C")]


def test_rongcheng_records_count_for_three_years(policy) -> None:  # type: ignore[no-untyped-def]
    tickets = [record(f"T{i}", "P1", "rongcheng.traffic.ticket", date(2019, 3, 1),
                      agency="rongcheng.public-security") for i in range(3)]
    assert _rongcheng(policy, tickets, date(2022, 2, 28)).score == Decimal(985)  # 1000 − 3 × 5
    # a record counts while as-of < effective + 3 years: not on 1 March 2022
    assert _rongcheng(policy, tickets, date(2022, 3, 1)).score == Decimal(1000)
    drunk = record("D1", "P1", "rongcheng.traffic.drunk_driving", date(2019, 3, 1),
                   agency="rongcheng.public-security")
    assert _rongcheng(policy, [drunk], date(2022, 2, 28)).grade == "C"
    assert _rongcheng(policy, [drunk], date(2022, 3, 1)).grade == "A"  # 1000: A (960–1029)


# --- Honest Shanghai -----------------------------------------------------------------------


def _shanghai_firm(opt_in: bool) -> Subject:
    code = validate("cn-uscc", make_uscc("9", "1", "310115", "MA1FL000"))
    return Subject("E1", SubjectKind.ENTERPRISE, "上海某某有限公司", "310115", (code,),
                   registered=date(2012, 1, 1),
                   opt_ins=(("honest-shanghai", date(2016, 6, 1)),) if opt_in else ())


def test_honest_shanghai_rates_companies_that_opted_in(policy) -> None:  # type: ignore[no-untyped-def]
    honour = record("H1", "E1", "honest_shanghai.honours.award", date(2017, 3, 1),
                    agency="honest_shanghai.credit-centre")
    st = evaluate(policy, _shanghai_firm(True), [honour], [], [], date(2017, 6, 1))
    r = st.ratings["honest_shanghai.rating"]
    assert r.score == Decimal(10) and r.grade == "very_good"  # 0 + 10: very good from 10
    d = decide(st, "honest_shanghai.partner.purchase")
    assert d.effect is Effect.ALLOW and [x.measure for x in d.reasons] == [
        "honest_shanghai.partner_discount"]
    lists = [e["list"] for e in public_view(policy, st)["list_entries"]]
    assert "honest_shanghai.very_good" not in lists  # shown in the app, not published
    assert "honest_shanghai.very_good" in [e.list for e in st.entries]
    other = evaluate(policy, _shanghai_firm(False), [honour], [], [], date(2017, 6, 1))
    assert "honest_shanghai.rating" not in other.ratings  # voluntary: only who opted in


def test_honest_shanghai_gives_companies_incentives_only(policy) -> None:  # type: ignore[no-untyped-def]
    penalties = [record(f"A{i}", "E1", "honest_shanghai.penalty.administrative",
                        date(2017, 3, 1 + i), agency="honest_shanghai.credit-centre")
                 for i in range(2)]
    st = evaluate(policy, _shanghai_firm(True), penalties, [], [], date(2017, 6, 1))
    assert st.ratings["honest_shanghai.rating"].grade == "bad"  # 0 − 2 × 10 = −20
    assert [m for m in st.measures if m.kind != "reward"] == []  # a bad rating restricts nothing
    kinds = {m.kind.value for m in policy.all("measure")
             if policy.preset_of("measure", m) == "honest-shanghai"}
    assert kinds == {"reward"}


# --- notice measures -----------------------------------------------------------------------


def test_zhengzhou_callers_of_a_listed_debtor_hear_the_law_offender_notice(policy) -> None:  # type: ignore[no-untyped-def]
    refusal = record("R1", "P1", "judicial.debtor.refuses_to_perform", date(2019, 3, 1))
    zz = evaluate(policy, person("P1", region="410105"), [refusal], [], [], date(2019, 6, 1))
    d = decide(zz, "zhengzhou.telecom.call_receive")
    assert d.effect is Effect.CONDITIONS  # the call goes through, after the message
    assert [(r.measure, r.kind, r.applied_by) for r in d.reasons] == [
        ("zhengzhou.caller_notice", "notice", "zhengzhou.telecom-operators")]
    # Beijing (110101): on the court list, but the Zhengzhou notice does not reach them
    bj = evaluate(policy, person("P1", region="110101"), [refusal], [], [], date(2019, 6, 1))
    assert decide(bj, "zhengzhou.telecom.call_receive").effect is Effect.ALLOW
    # performance on Fri 7 Jun 2019: the entry ends 3 working days later, Wed 12 Jun
    done = event("E1", "R1", "rectified", date(2019, 6, 7))
    entry = next(e for e in evaluate(policy, person("P1", region="410105"), [refusal], [done],
                                     [], date(2019, 6, 12)).entries
                 if e.list == "zhengzhou.caller_notice_debtors")
    assert entry.status is EntryStatus.ENDED and entry.end == date(2019, 6, 12)


def test_shenzhen_displays_a_penalised_jaywalker_for_a_month(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1", region="440304")
    fine = record("J1", "P1", "shenzhen.traffic.pedestrian_signal_penalty", date(2017, 5, 10),
                  agency="shenzhen.traffic-police", fine=20)
    st = evaluate(policy, p, [fine], [], [], date(2017, 5, 20))
    [m] = [m for m in st.measures if m.measure == "shenzhen.jaywalker_public_display"]
    assert (m.kind, m.effect, m.entry.records) == ("notice", "none", ("J1",))
    assert [e["list"] for e in public_view(policy, st)["list_entries"]] == [
        "shenzhen.jaywalkers_displayed"]
    # one month: shown until 9 June, off on 10 June 2017
    assert evaluate(policy, p, [fine], [], [], date(2017, 6, 10)).measures == ()
    # only the traffic police's penalty decision feeds it, never camera data
    cat = policy.at(date(2017, 5, 20)).categories["shenzhen.traffic.pedestrian_signal_penalty"]
    assert cat.agencies == ("shenzhen.traffic-police",)
    assert "face recognition" in policy.presets["shenzhen"].description


# --- person grades are not public by default -------------------------------------------------


def test_scheme_grades_are_not_public_unless_declared() -> None:
    assert Scheme.model_fields["public"].default is False


def test_local_pilot_person_grades_are_not_published(policy) -> None:  # type: ignore[no-untyped-def]
    for sid, region, day in (("suining.mass_credit", SUINING, date(2011, 6, 1)),
                             ("rongcheng.points", "371082", date(2019, 6, 1))):
        st = evaluate(policy, person("P1", region=region), [], [], [], day)
        assert sid in st.ratings and st.ratings[sid].public is False
        assert public_view(policy, st)["ratings"] == []


def test_jiakuang_majia_shows_only_the_top_scorers(policy) -> None:  # type: ignore[no-untyped-def]
    day = date(2019, 6, 1)
    donor = record("G1", "P1", "jiakuang_majia.charity.donation", date(2019, 1, 5),
                   agency="jiakuang_majia.recorder", donation_yuan=3000)
    top = evaluate(policy, person("P1", region="370283"), [donor], [], [], day)
    assert top.ratings["jiakuang_majia.points"].grade == "model"  # +30: model from 30
    shown = public_view(policy, top)
    assert shown["ratings"] == []
    assert [e["list"] for e in shown["list_entries"]] == ["jiakuang_majia.model_villagers"]
    litter = record("L1", "P2", "jiakuang_majia.community.litter", date(2019, 1, 5),
                    agency="jiakuang_majia.recorder")
    other = evaluate(policy, person("P2", region="370283"), [litter], [], [], day)
    assert other.ratings["jiakuang_majia.points"].grade == "ordinary"  # −2
    assert public_view(policy, other) | {"subject": None, "as_of": None} == {
        "subject": None, "as_of": None, "ratings": [], "list_entries": [], "displayed": []}


# --- Covid 2020: relief for firms in difficulty ----------------------------------------------

CERTIFIED = "commercial.covid.difficulty_certified"


def _cert(rid: str, day: date):  # type: ignore[no-untyped-def]
    return record(rid, "E1", CERTIFIED, day, agency="covid.relief-authorities")


def _late_filings(*days: date):  # type: ignore[no-untyped-def]
    return [record(f"T{i}", "E1", "tax.late_filing", d, agency="sat") for i, d in enumerate(days)]


def test_covid_late_filings_by_a_certified_firm_do_not_deduct(policy) -> None:  # type: ignore[no-untyped-def]
    late = _late_filings(date(2020, 4, 1), date(2020, 5, 1), date(2020, 6, 1))
    day = date(2021, 4, 1)  # the rating for 2020, published 1 April 2021
    plain = evaluate(policy, firm("E1"), late, [], [], day).ratings["sat.tax_credit"]
    assert plain.score == Decimal(85) and plain.grade == "B"  # 100 − 3 × 5: not certified
    st = evaluate(policy, firm("E1"), [_cert("C1", date(2020, 3, 1)), *late], [], [], day)
    r = st.ratings["sat.tax_credit"]
    assert r.score == Decimal(100) and r.grade == "A"  # every filing was made while certified
    assert r.period_end == date(2020, 12, 31)
    c = next(c for c in r.contributions if c.indicator == "late_filing")
    assert (c.value, c.points, c.records) == (0, 0, ())
    assert c.waived == ("T0", "T1", "T2") and c.relieved_by == ("C1",)
    from xinyong.cli.render import render
    from xinyong.engine.explain import explain
    assert "not counted: T0, T1, T2 (relief declared by C1)" in render(explain(policy, st))


def test_covid_relief_covers_only_filings_made_while_certified(policy) -> None:  # type: ignore[no-untyped-def]
    cert = _cert("C1", date(2020, 3, 1))  # covers 1 Mar 2020 to 28 Feb 2021 (1 Mar is outside)
    t0, t1, t2, t3 = _late_filings(date(2020, 2, 15), date(2020, 9, 1), date(2021, 2, 1),
                                   date(2021, 3, 1))

    def late_filing(recs, day, events=()):  # type: ignore[no-untyped-def]
        r = evaluate(policy, firm("E1"), [cert, *recs], list(events), [], day).ratings[
            "sat.tax_credit"]
        return r.score, next(c for c in r.contributions if c.indicator == "late_filing")

    # the 2020 rating (as of 31 Dec 2020): T0 before the certification counts, T1 does not
    score, c = late_filing([t0, t1], date(2021, 4, 1))
    assert (c.records, c.waived) == (("T0",), ("T1",)) and score == Decimal(95)  # 100 − 5
    # the 2021 rating: T1 has left the one-year window; T2 is covered, T3 is a day past cover
    score, c = late_filing([t1, t2, t3], date(2022, 4, 1))
    assert (c.records, c.waived) == (("T3",), ("T2",)) and score == Decimal(95)
    # a certification revoked before publication relieves nothing: 100 − 2 × 5
    revoked = event("X1", "C1", "revoked", date(2021, 5, 1))
    score, c = late_filing([t1, t2, t3], date(2022, 4, 1), [revoked])
    assert c.waived == () and score == Decimal(90)
    # the 2023 rating is made under the general version again: no relief, though the
    # certification of June 2022 would still cover a filing of February 2023
    r = evaluate(policy, firm("E1"), [_cert("C1", date(2022, 6, 1)),
                                      *_late_filings(date(2023, 2, 1))], [], [],
                 date(2024, 4, 1)).ratings["sat.tax_credit"]
    assert r.period_end == date(2023, 12, 31) and r.score == Decimal(95)


def test_covid_grace_only_for_certified_firms(policy) -> None:  # type: ignore[no-untyped-def]
    missing = record("A1", "E1", "commercial.annual_report.missing", date(2020, 7, 1),
                     agency="samr")

    def entry(recs):  # type: ignore[no-untyped-def]
        st = evaluate(policy, firm("E1"), recs, [], [], date(2020, 8, 1))
        return next(e for e in st.entries if e.list == "samr.abnormal_operations")

    plain = entry([missing])
    assert plain.start == date(2020, 7, 1) and plain.status is EntryStatus.ACTIVE
    graced = entry([missing, _cert("C1", date(2020, 3, 1))])
    assert graced.start == date(2021, 1, 1) and graced.status is EntryStatus.PENDING  # +6 months
    # a certification after the listing date does not reach back
    assert entry([missing, _cert("C1", date(2020, 7, 15))]).start == date(2020, 7, 1)


# --- credit repair, 2025-2026 ----------------------------------------------------------------


def test_order_36_tiers_minor_general_serious(policy) -> None:  # type: ignore[no-untyped-def]
    day = date(2026, 4, 1)
    recs = [record(f"A{t}", "E1", f"admin.penalty.{t}", day, agency="samr")
            for t in ("minor", "general", "serious")]
    st = evaluate(policy, firm("E1"), recs, [], [], date(2026, 5, 1))
    shown = {d.record: (d.earliest_repair, d.until) for d in st.displayed}
    assert shown == {
        "Ageneral": (date(2026, 7, 1), date(2027, 4, 1)),   # 3 months to 1 year
        "Aserious": (date(2027, 4, 1), date(2029, 4, 1)),   # 1 to 3 years
    }  # minor: in principle not shown


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 9, 1, 9))


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url, clock=clock)
    yield led
    led.dispose()


def test_repair_via_credit_china_answers_within_10_working_days(policy, ledger, clock) -> None:  # type: ignore[no-untyped-def]
    e2 = firm("E2", "北京某某贸易有限公司")
    ledger.write(Batch(subjects=[e2], records=[
        record("A1", "E2", "admin.penalty.general", date(2025, 9, 1), agency="samr")]))
    clock.set(datetime(2025, 12, 15, 9))  # Mon; repair possible from 1 Dec (3 months)
    case = apply_for_repair(ledger, policy, e2, "record:A1", "fine paid")
    # no commitment letter before Order 36; 10 working days from Mon 15 Dec: Mon 29 Dec
    assert case.status == "applied" and case.deadline == date(2025, 12, 29)
    assert case.detail["decision_working_days"] == 3
    assert "Credit China" in case.detail["channel"]
    assert not case.overdue(date(2025, 12, 29)) and case.overdue(date(2025, 12, 30))


def test_repair_under_order_36_needs_a_commitment_letter(policy, ledger, clock) -> None:  # type: ignore[no-untyped-def]
    e2 = firm("E2", "北京某某贸易有限公司")
    clock.set(datetime(2026, 4, 1, 9))
    ledger.write(Batch(subjects=[e2], records=[
        record("A1", "E2", "admin.penalty.general", date(2026, 4, 1), agency="samr")]))
    clock.set(datetime(2026, 9, 18, 9))  # Fri; repair possible from 1 Jul 2026
    with pytest.raises(CaseError, match="credit commitment letter"):
        apply_for_repair(ledger, policy, e2, "record:A1", "fine paid")
    case = apply_for_repair(ledger, policy, e2, "record:A1", "fine paid",
                            commitment="信用承诺书 2026-09-18")
    # 10 working days from Fri 18 Sep 2026: Sun 20 Sep (make-up day) 1, 21-24 2-5,
    # Fri 25 Sep Mid-Autumn off, 28-30 6-8, 1-7 Oct National Day off, Thu 8 Oct 9, Fri 9 Oct 10
    assert case.deadline == date(2026, 10, 9)
    assert case.detail["commitment"] == "信用承诺书 2026-09-18"
    assert case.detail["procedure"] == "cn.credit_repair"
