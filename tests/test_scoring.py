"""Ratings worked by hand from the documented rules (and the preset values marked illustrative)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from builders import firm, link, person, record
from xinyong.engine import evaluate


def test_suining_fourteen_loan_defaults_cost_420_points_and_give_d(policy) -> None:
    p = person("P1", region="320324")  # Suining County, Xuzhou
    recs = [record(f"R{i}", "P1", "suining.finance.loan_default", date(2010, 3, 1 + i),
                   agency="suining.finance-office") for i in range(14)]
    st = evaluate(policy, p, recs, [], [], date(2010, 6, 1))
    r = st.ratings["suining.mass_credit"]
    loan = next(c for c in r.contributions if c.indicator == "loan_default")
    assert loan.value == 14 and loan.points == -420
    assert r.score == Decimal(580)  # 1000 − 14 × 30
    assert r.grade == "D"


def test_rongcheng_drunk_driving_caps_the_grade_at_c_whatever_the_points(policy) -> None:
    p = person("P1", region="371082")  # Rongcheng, Weihai
    heroic = [record(f"H{i}", "P1", "rongcheng.social.heroic_act", date(2019, 1, 2 + i),
                     agency="rongcheng.credit-office") for i in range(4)]
    clean = evaluate(policy, p, heroic, [], [], date(2019, 6, 1))
    r = clean.ratings["rongcheng.points"]
    assert r.score == Decimal(1120)  # 1000 + 4 × 30 (the preset has no clamp)
    assert r.grade == "AAA"
    drunk = record("D1", "P1", "rongcheng.traffic.drunk_driving", date(2019, 2, 1),
                   agency="rongcheng.public-security")
    st = evaluate(policy, p, [*heroic, drunk], [], [], date(2019, 6, 1))
    r = st.ratings["rongcheng.points"]
    assert r.band_grade == "AAA" and r.grade == "C"
    assert [a.rule for a in r.adjustments] == ["drunk_driving"]
    assert r.adjustments[0].records == ("D1",)


def _tax(policy, subject, recs, links=(), related=(), as_of=date(2024, 4, 1)):  # type: ignore[no-untyped-def]
    st = evaluate(policy, subject, recs, [], list(links), as_of, related=list(related))
    return st.ratings["sat.tax_credit"]


def test_tax_89_points_is_b(policy) -> None:
    f = firm("E1")
    recs = [
        record("T1", "E1", "tax.late_payment", date(2023, 5, 1), agency="sat"),
        record("T2", "E1", "tax.late_payment", date(2023, 7, 1), agency="sat"),
        record("T3", "E1", "tax.late_filing", date(2023, 9, 1), agency="sat"),
    ]
    r = _tax(policy, f, recs)
    assert r.score == Decimal(89)  # 100 − 2 × 3 − 5
    assert r.grade == "B"  # B is 70–89


def test_tax_evasion_of_120000_at_12_percent_is_d_whatever_the_points_for_two_years(policy):  # type: ignore[no-untyped-def]
    f = firm("E1")
    ev = record("T1", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                tax_evaded=120000, tax_payable=1000000)
    r = _tax(policy, f, [ev])
    assert r.score == Decimal(100) and r.band_grade == "A"
    assert r.grade == "D"
    assert any(a.rule == "direct_d" and a.records == ("T1",) for a in r.adjustments)
    # D for the rating years 2023 and 2024 (two years on, 1 Mar 2025, is after 31 Dec 2024),
    # published 1 Apr 2024 and 1 Apr 2025; the 2025 rating, published 1 Apr 2026, is A again
    assert _tax(policy, f, [ev], as_of=date(2026, 3, 31)).grade == "D"
    assert _tax(policy, f, [ev], as_of=date(2026, 4, 1)).grade == "A"


def test_tax_evasion_thresholds_both_apply(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    below_share = record("T1", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                         tax_evaded=120000, tax_payable=1500000)  # 8 %
    below_amount = record("T2", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                          tax_evaded=90000, tax_payable=180000)  # 50 % but < 100,000
    exactly = record("T3", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                     tax_evaded=100000, tax_payable=1000000)  # exactly both thresholds
    assert _tax(policy, f, [below_share]).grade != "D"
    assert _tax(policy, f, [below_amount]).grade != "D"
    assert _tax(policy, f, [exactly]).grade == "D"


def test_tax_d_reaches_the_responsible_persons_other_firm(policy) -> None:  # type: ignore[no-untyped-def]
    f1, f2, p = firm("E1"), firm("E2"), person("P1")
    ev = record("T1", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                tax_evaded=120000, tax_payable=1000000)
    links = [link("E1", "P1", "responsible_person"), link("E2", "P1", "responsible_person")]
    r2 = _tax(policy, f2, [ev], links, [f1, p])
    assert r2.score == Decimal(100) and r2.grade == "D"
    adj = next(a for a in r2.adjustments if a.rule == "responsible_person_other_firm")
    assert adj.records == ("T1",) and "E1" in adj.via[0]
    # a firm the person does not run is untouched
    f3 = firm("E3")
    assert _tax(policy, f3, [ev], links, [f1, p]).grade == "A"


def test_tax_new_entity_is_m(policy) -> None:  # type: ignore[no-untyped-def]
    young = firm("E9", registered=date(2023, 10, 1))
    assert _tax(policy, young, []).grade == "M"


def test_local_pilots_bind_only_their_own_residents(policy) -> None:  # type: ignore[no-untyped-def]
    beijing = person("P2", region="110101")
    st = evaluate(policy, beijing, [], [], [], date(2019, 6, 1))
    assert "rongcheng.points" not in st.ratings
    assert "suining.mass_credit" not in st.ratings


def test_tax_d_measures_reach_the_responsible_persons_other_firm(policy) -> None:  # type: ignore[no-untyped-def]
    from xinyong.engine import decide

    f1, f2, p = firm("E1"), firm("E2"), person("P1")
    ev = record("T1", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                tax_evaded=120000, tax_payable=1000000)
    links = [link("E1", "P1", "responsible_person"), link("E2", "P1", "responsible_person")]
    st = evaluate(policy, f2, [ev], [], links, date(2024, 4, 1), related=[f1, p])
    assert [e for e in st.entries if e.list == "sat.major_violation"] == []  # F2 is not listed
    d = decide(st, "invoice.obtain")
    assert d.effect.value == "allow_with_conditions"
    (r,) = d.reasons
    assert r.via == ("responsible_person/responsible_person_of",)
    assert r.listed_subject == "E1" and r.records == ("T1",)
    # but the joint punishment of the listed firm itself does not extend to F2
    assert decide(st, "procurement.bid").effect.value == "allow"


def test_tax_d_from_the_score_alone_also_reaches_the_other_firm(policy) -> None:  # type: ignore[no-untyped-def]
    f1, f2, p = firm("E1"), firm("E2"), person("P1")
    # 6 irregular-invoice records at −11 each: 100 − 66 = 34 < 40 → D on points alone
    recs = [record(f"I{i}", "E1", "tax.invoice_irregular", date(2023, 6, 1 + i), agency="sat")
            for i in range(6)]
    links = [link("E1", "P1", "responsible_person"), link("E2", "P1", "responsible_person")]
    r1 = _tax(policy, f1, recs, links, [f2, p])
    assert r1.score == Decimal(34) and r1.band_grade == "D"
    r2 = _tax(policy, f2, recs, links, [f1, p])
    assert r2.score == Decimal(100) and r2.grade == "D"
    # one hop only: E1 is not made D again through E2 (no loop), and E2's D does not travel on
    assert [a.rule for a in r1.adjustments] == []
