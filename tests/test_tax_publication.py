"""The tax credit rating is determined each April for the calendar year before, valid from its
publication day; a granted re-evaluation (复评) recomputes it. Worked by hand from the shipped
preset: 100 points, -5 per late filing in the rated year, A from 90, B from 70; direct D for
evasion of at least RMB 100,000 that is at least 10% of the tax payable, within two years;
M for a firm registered within a year of the end of the rated year (from SAT 2018 No. 8);
publication on 1 April (the day is illustrative)."""

from __future__ import annotations

from datetime import date, datetime

from builders import event, firm, record
from xinyong.engine import evaluate
from xinyong.model import EntryStatus
from xinyong.policy.model import Policy

E1 = firm("E1")  # registered 1 May 2010
EVASION = record("T1", "E1", "tax.evasion", date(2022, 5, 10), agency="sat",
                 tax_evaded=120000, tax_payable=1000000)  # 12 %: direct D


def _rating(policy: Policy, recs: list, day: date, events: list = (), subject=E1):  # type: ignore[no-untyped-def,assignment]
    return evaluate(policy, subject, recs, list(events), [], day).ratings.get("sat.tax_credit")


def test_a_rating_is_valid_from_its_publication_day_for_the_year_before(policy: Policy) -> None:
    # the 2022 act is in the rating for 2022, published 1 Apr 2023
    r = _rating(policy, [EVASION], date(2023, 3, 31))
    assert (r.grade, r.period_end, r.assessed_on) == ("A", date(2021, 12, 31), date(2022, 4, 1))
    r = _rating(policy, [EVASION], date(2023, 4, 1))
    assert (r.grade, r.period_end, r.assessed_on) == ("D", date(2022, 12, 31), date(2023, 4, 1))
    # D for the rating years 2022 and 2023 (the act is within two years of 31 Dec 2023) ...
    assert _rating(policy, [EVASION], date(2025, 3, 31)).grade == "D"
    # ... and not for 2024: two years after 10 May 2022 is 10 May 2024, before 31 Dec 2024
    r = _rating(policy, [EVASION], date(2025, 4, 1))
    assert (r.grade, r.period_end) == ("A", date(2024, 12, 31))


def test_the_indicator_window_is_the_rated_calendar_year(policy: Policy) -> None:
    late = [record(f"L{i}", "E1", "tax.late_filing", date(2023, 3 * i, 15), agency="sat")
            for i in (1, 2, 3)]  # 15 Mar, 15 Jun, 15 Sep 2023: -15 → 85, B
    assert _rating(policy, late, date(2024, 3, 31)).grade == "A"  # the 2022 rating
    r = _rating(policy, late, date(2024, 4, 1))
    assert (r.score, r.grade) == (85, "B")
    assert _rating(policy, late, date(2025, 4, 1)).score == 100  # 2024 had none


def test_what_is_learned_after_publication_waits_for_a_re_evaluation(policy: Policy) -> None:
    # a 2023 late filing recorded only on 1 May 2024, after the 2023 rating was published
    late = [record(f"L{i}", "E1", "tax.late_filing", date(2023, 2, i), agency="sat")
            for i in (1, 2)]
    later = record("L3", "E1", "tax.late_filing", date(2023, 2, 3), agency="sat",
                   recorded=datetime(2024, 5, 1, 9))
    # published 1 Apr 2024 with two filings: 90, A; the third does not change it
    assert _rating(policy, [*late, later], date(2024, 6, 30)).score == 90
    # a re-evaluation granted on 1 Jul 2024 recomputes 2023 with the three: 85, B
    reeval = record("RE1", "E1", "tax.credit.reevaluated", date(2024, 7, 1), agency="sat")
    r = _rating(policy, [*late, later, reeval], date(2024, 7, 1))
    assert (r.score, r.grade, r.assessed_on, r.reassessed_by) == (
        85, "B", date(2024, 7, 1), "RE1")
    assert _rating(policy, [*late, later, reeval], date(2024, 6, 30)).score == 90


def test_a_correction_counts_after_a_re_evaluation_a_revocation_at_once(policy: Policy) -> None:
    corrected = event("C1", "T1", "corrected", date(2023, 6, 1))
    corrected = corrected.__class__(corrected.id, corrected.record, corrected.kind,
                                    corrected.effective, corrected.recorded_at,
                                    amounts={"tax_evaded": 50000})  # below 100,000: no D
    assert _rating(policy, [EVASION], date(2023, 6, 15), [corrected]).grade == "D"
    reeval = record("RE1", "E1", "tax.credit.reevaluated", date(2023, 7, 1), agency="sat")
    assert _rating(policy, [EVASION, reeval], date(2023, 7, 1), [corrected]).grade == "A"
    revoked = event("X1", "T1", "revoked", date(2023, 6, 1))
    assert _rating(policy, [EVASION], date(2023, 6, 1), [revoked]).grade == "A"
    assert _rating(policy, [EVASION], date(2023, 5, 31), [revoked]).grade == "D"


def test_no_rating_before_the_firm_existed_and_the_red_list_starts_on_a_publication_day(
        policy: Policy) -> None:
    new = firm("E2", registered=date(2020, 6, 1))
    # published 1 Apr 2020 for 2019: the firm did not exist on 31 Dec 2019
    st = evaluate(policy, new, [], [], [], date(2021, 1, 1))
    assert "sat.tax_credit" not in st.ratings
    assert not [e for e in st.entries if e.list == "sat.grade_a"]
    # for 2020: registered within a year of 31 Dec 2020, M
    assert _rating(policy, [], date(2021, 4, 1), subject=new).grade == "M"
    # for 2021: 1 Jun 2021 is before 31 Dec 2021, so no longer new; 100 points, A
    st = evaluate(policy, new, [], [], [], date(2023, 6, 1))
    (e,) = [e for e in st.entries if e.list == "sat.grade_a"]
    assert (e.start, e.status) == (date(2022, 4, 1), EntryStatus.ACTIVE)
    # an old firm is on it from the first publication under the 2014 measures, 1 Apr 2015
    st = evaluate(policy, E1, [EVASION], [], [], date(2025, 6, 1))
    assert sorted((e.start, e.end) for e in st.entries if e.list == "sat.grade_a") == [
        (date(2015, 4, 1), date(2023, 4, 1)), (date(2025, 4, 1), None)]
