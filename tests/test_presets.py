"""Presets worked by hand: scorecard scaling and reasons, composite grades, list transfers,
the Covid temporary grace, policy versions by date, and restrictions overriding rewards."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from builders import firm, person, record
from xinyong.engine import decide, evaluate
from xinyong.model import EntryStatus

SESAME = (("sesame", date(2016, 1, 1)),)


def _sesame(policy, recs, opt_ins=SESAME):  # type: ignore[no-untyped-def]
    p = person("P1", region="330106", opt_ins=opt_ins)
    return evaluate(policy, p, recs, [], [], date(2018, 6, 1))


def test_sesame_scorecard_scales_to_350_950_with_four_principal_reasons(policy) -> None:  # type: ignore[no-untyped-def]
    a = "sesame.operator"
    recs = [
        *(record(f"L{i}", "P1", "sesame.credit.repayment_late", date(2017, 1, 5 + i), agency=a)
          for i in range(2)),  # 2 late → bin ≤3: 80 of 350
        *(record(f"B{i}", "P1", "sesame.behaviour.bill_paid_on_time", date(2017, 2, 1 + i),
                 agency=a) for i in range(10)),  # 10 → bin ≤20: 180 of 250
        record("A1", "P1", "sesame.credit.account_in_good_standing", date(2017, 3, 1), agency=a,
               balance_yuan=50000),  # max 50,000 → bin ≤100,000: 140 of 200
        record("I1", "P1", "sesame.identity.profile_verified", date(2017, 4, 1), agency=a),  # 150
    ]  # no contacts: 0 of 50
    r = _sesame(policy, recs).ratings["sesame.score"]
    # raw 80+180+140+150+0 = 550 of 0..1000 → 350 + 0.55 × 600 = 680
    assert r.score == Decimal(680) and r.grade == "excellent"
    # shortfalls: credit 270, behaviour 70, ability 60, social 50, identity 0
    assert r.principal_reasons == ("credit_history", "behaviour_preferences",
                                   "ability_to_perform", "social_connections")
    assert r.public is False


def test_sesame_at_most_four_reasons_and_only_for_those_who_opted_in(policy) -> None:  # type: ignore[no-untyped-def]
    late = [record("L1", "P1", "sesame.credit.repayment_late", date(2017, 1, 5),
                   agency="sesame.operator")]
    r = _sesame(policy, late).ratings["sesame.score"]
    # raw 200 (one late: 200; all else 0) → 350 + 0.2 × 600 = 470
    assert r.score == Decimal(470) and r.grade == "very_poor"
    # five shortfalls (250, 200, 150, 150, 50): the four largest, ties by name
    assert r.principal_reasons == ("behaviour_preferences", "ability_to_perform",
                                   "credit_history", "identity_traits")
    assert "sesame.score" not in _sesame(policy, late, opt_ins=()).ratings


def test_sesame_partner_perks_for_high_scorers(policy) -> None:  # type: ignore[no-untyped-def]
    a = "sesame.operator"
    recs = [record(f"B{i}", "P1", "sesame.behaviour.bill_paid_on_time", date(2017, 2, 1 + i),
                   agency=a) for i in range(25)]  # 250
    recs.append(record("I1", "P1", "sesame.identity.profile_verified", date(2017, 4, 1),
                       agency=a))  # 150; with 0 late: 350 → raw 750 → 800
    st = _sesame(policy, recs)
    assert st.ratings["sesame.score"].score == Decimal(800)
    perks = {m.measure for m in st.measures}
    assert "sesame.hotel.deposit_free" in perks


def test_enterprise_composite_weighted_grade(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    recs = [
        record("C1", "E1", "judicial.debtor.refuses_to_perform", date(2019, 2, 1)),
        record("T1", "E1", "tax.late_payment", date(2019, 3, 1), agency="sat"),
        record("T2", "E1", "tax.late_payment", date(2019, 4, 1), agency="sat"),
    ]
    r = evaluate(policy, f, recs, [], [], date(2019, 10, 1)).ratings["ndrc.enterprise_appraisal"]
    # 0.30 × 40 + 0.25 × 70 + 0.20 × 100 + 0.25 × 100 = 74.5 → medium (60–75)
    assert r.score == Decimal("74.5") and r.grade == "medium"


def test_abnormal_operations_for_three_years_moves_to_serious_illegal_list(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    recs = [record("A1", "E1", "commercial.annual_report.missing", date(2019, 7, 1),
                   agency="samr")]
    before = evaluate(policy, f, recs, [], [], date(2022, 6, 30))
    black = {"samr.abnormal_operations", "samr.serious_illegal"}
    assert {e.list for e in before.active_entries} & black == {"samr.abnormal_operations"}
    after = evaluate(policy, f, recs, [], [], date(2022, 7, 1))
    serious = next(e for e in after.active_entries if e.list == "samr.serious_illegal")
    assert serious.start == date(2022, 7, 1) and serious.records == ("A1",)
    assert serious.earliest_application == date(2023, 7, 1)  # early removal after 1 year
    assert decide(after, "procurement.bid").effect.value == "deny"


def test_covid_temporary_grace_for_firms_in_difficulty(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")

    def entry(recorded: date, as_of: date, certified: date | None = None):  # type: ignore[no-untyped-def]
        r = record("A1", "E1", "commercial.annual_report.missing", recorded, agency="samr")
        cert = [record("C1", "E1", "commercial.covid.difficulty_certified", certified,
                       agency="covid.relief-authorities")] if certified else []
        st = evaluate(policy, f, [r, *cert], [], [], as_of)
        return next(e for e in st.entries if e.list == "samr.abnormal_operations")

    normal = entry(date(2019, 7, 1), date(2019, 7, 1))
    assert normal.start == date(2019, 7, 1) and normal.status is EntryStatus.ACTIVE
    covid = entry(date(2020, 7, 1), date(2020, 12, 31), certified=date(2020, 3, 1))
    assert covid.status is EntryStatus.PENDING and covid.start == date(2021, 1, 1)
    # the grace given in the window is kept after it (the version of the listing date governs)
    late = entry(date(2022, 12, 1), date(2023, 5, 31), certified=date(2022, 6, 1))
    assert late.start == date(2023, 6, 1) and late.status is EntryStatus.PENDING
    assert entry(date(2023, 1, 2), date(2023, 1, 2)).status is EntryStatus.ACTIVE


def test_court_list_grace_follows_the_version_in_force(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")

    def start(effective: date) -> date:
        r = record("R1", "P1", "judicial.debtor.refuses_to_perform", effective)
        st = evaluate(policy, p, [r], [], [], date(2024, 6, 1))
        return next(e for e in st.entries if e.list == "spc.dishonest_debtors").start

    assert start(date(2019, 6, 3)) == date(2019, 6, 3)  # before Fa Fa (2019) No. 35: no grace
    assert start(date(2020, 6, 3)) == date(2020, 7, 3)  # after: one month


def test_restriction_overrides_reward(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    serious = record("S1", "E1", "commercial.violation.serious", date(2023, 1, 10), agency="samr")
    st = evaluate(policy, f, [serious], [], [], date(2023, 6, 1))
    assert st.ratings["sat.tax_credit"].grade == "A"  # so on the A-grade red list as well
    d = decide(st, "approval.apply")
    assert d.effect.value == "allow_with_conditions"
    assert d.measures == ("licence.strict_review",)
    fast = next(r for r in d.reasons if r.measure == "approval.fast_track")
    assert fast.overridden
    clean = evaluate(policy, f, [], [], [], date(2023, 6, 1))
    d2 = decide(clean, "approval.apply")
    assert d2.effect.value == "allow" and d2.measures == ("approval.fast_track",)


def test_unknown_action_is_an_error_naming_close_matches(policy) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from xinyong.engine import UnknownAction

    st = evaluate(policy, person("P1"), [], [], [], date(2024, 1, 1))
    with pytest.raises(UnknownAction, match=r"transport\.air\.ticket"):
        decide(st, "transport.air.tickets")


def test_entry_moved_to_the_serious_list_can_be_repaired_after_a_year(policy) -> None:  # type: ignore[no-untyped-def]
    from builders import event

    f = firm("E1")
    recs = [record("A1", "E1", "commercial.annual_report.missing", date(2019, 7, 1),
                   agency="samr")]
    too_early = [event("F1", "A1", "repaired", date(2023, 6, 30))]  # moved 2022-07-01, +1 year
    st = evaluate(policy, f, recs, too_early, [], date(2023, 8, 1))
    assert decide(st, "procurement.bid").effect.value == "deny"
    on_time = [event("F2", "A1", "repaired", date(2023, 7, 1))]
    st = evaluate(policy, f, recs, on_time, [], date(2023, 8, 1))
    serious = next(e for e in st.entries if e.list == "samr.serious_illegal")
    assert serious.status is EntryStatus.ENDED and serious.end == date(2023, 7, 1)


def test_early_repair_changes_neither_lists_nor_grades(policy) -> None:  # type: ignore[no-untyped-def]
    from builders import event

    f = firm("E1")
    ev = record("T1", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                tax_evaded=120000, tax_payable=1000000)
    early = event("F1", "T1", "repaired", date(2023, 6, 1))
    st = evaluate(policy, f, [ev], [early], [], date(2024, 6, 1))  # the 2023 rating
    assert st.ratings["sat.tax_credit"].grade == "D"
    assert "sat.grade_a" not in {e.list for e in st.active_entries}
