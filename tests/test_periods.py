"""Calendar arithmetic worked by hand from the 2024 State Council holiday notice."""

from datetime import date

import pytest

from xinyong.periods import Period, WorkingCalendar


def test_periods_parse_and_add() -> None:
    assert Period.parse("P2Y").after(date(2024, 2, 29)) == date(2026, 2, 28)
    assert Period.parse("P1M").after(date(2024, 1, 31)) == date(2024, 2, 29)
    assert Period.parse("P3M").after(date(2023, 11, 30)) == date(2024, 2, 29)
    assert Period.parse("P1Y6M").after(date(2020, 1, 15)) == date(2021, 7, 15)
    assert Period.parse("P10D").after(date(2024, 12, 25)) == date(2025, 1, 4)
    assert Period.parse("P2W").after(date(2024, 1, 1)) == date(2024, 1, 15)
    assert Period.parse("P1Y").before(date(2025, 3, 1)) == date(2024, 3, 1)
    assert str(Period.parse("p1y6m")) == "P1Y6M"


@pytest.mark.parametrize("bad", ["2Y", "P", "P1.5Y", "three months", ""])
def test_bad_periods_are_refused_with_an_example(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        Period.parse(bad)


def test_three_working_days_after_a_friday_is_wednesday() -> None:
    cal = WorkingCalendar()
    assert cal.add_working_days(date(2024, 3, 1), 3) == date(2024, 3, 6)


def test_national_day_2024_with_make_up_working_day(policy) -> None:  # type: ignore[no-untyped-def]
    cal = policy.calendar("cn")
    # Sun 29 Sep 2024 was a make-up working day; 1–7 Oct were off (4 and 7 Oct in lieu)
    assert cal.is_working_day(date(2024, 9, 29))
    assert not cal.is_working_day(date(2024, 10, 4))
    assert cal.add_working_days(date(2024, 9, 27), 1) == date(2024, 9, 29)
    assert cal.add_working_days(date(2024, 9, 27), 3) == date(2024, 10, 8)
    assert cal.working_days_between(date(2024, 9, 27), date(2024, 10, 8)) == 3
