"""The working-day calendar: shipped data equal to python-holidays', 2026 worked by hand from the
State Council General Office's 2026 holiday notice, and a visible warning past its last year."""

from __future__ import annotations

import importlib.util
import tomllib
from datetime import date
from pathlib import Path

import pytest

from builders import event, person, record
from xinyong.cli.render import render
from xinyong.engine import evaluate
from xinyong.engine.explain import explain
from xinyong.files import load_policy
from xinyong.periods import WorkingCalendar
from xinyong.policy.model import Policy

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "policies" / "national" / "calendar.toml"
REFUSES = "judicial.debtor.refuses_to_perform"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_calendar", ROOT / "scripts" / "gen_calendar.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_shipped_calendar_equals_the_holidays_library() -> None:
    holidays = pytest.importorskip("holidays")  # a dev dependency, pinned in requirements.lock
    gen = _generator()
    (cal,) = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))["calendar"]
    last = gen.last_published_year()
    lib = holidays.China(years=range(gen.FIRST_YEAR, last + 1))
    assert set(cal["holidays"]) == set(lib), "regenerate: scripts/gen_calendar.py"
    assert set(cal["workdays"]) == gen.make_up_days(lib), "regenerate: scripts/gen_calendar.py"
    assert cal["published_from"] == date(gen.FIRST_YEAR, 1, 1)
    assert cal["published_to"] == date(last, 12, 31)
    # the same text, too: the file is generated, never edited by hand
    assert SHIPPED.read_text(encoding="utf-8") == gen.render()


def test_the_calendar_ends_with_the_last_published_notice_2026() -> None:
    # The 2026 notice was published in November 2025; none for 2027 yet (holidays 0.109).
    (cal,) = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))["calendar"]
    assert cal["published_to"] == date(2026, 12, 31)
    assert not [d for d in cal["holidays"] + cal["workdays"] if d.year > 2026]


# 1 Jan 2026 is a Thursday, so 4 Jan is a Sunday; 1 Feb is a Sunday, so 14 and 28 Feb are
# Saturdays; 1 May is a Friday, so 9 May is a Saturday; 1 Oct is a Thursday, so 20 Sep is a
# Sunday and 10 Oct a Saturday.
MAKE_UP_2026 = {date(2026, 1, 4): 6, date(2026, 2, 14): 5, date(2026, 2, 28): 5,
                date(2026, 5, 9): 5, date(2026, 9, 20): 6, date(2026, 10, 10): 5}


@pytest.mark.parametrize("day", sorted(MAKE_UP_2026))
def test_2026_weekend_days_worked_in_lieu(policy: Policy, day: date) -> None:
    assert day.weekday() == MAKE_UP_2026[day]  # Saturday 5, Sunday 6
    assert policy.calendar("cn").is_working_day(day)


def test_2026_holidays_are_not_working_days(policy: Policy) -> None:
    cal = policy.calendar("cn")
    spring = [date(2026, 2, d) for d in range(15, 24)]  # Spring Festival: 15-23 Feb off
    assert not any(cal.is_working_day(d) for d in spring)
    assert cal.is_working_day(date(2026, 2, 24))
    national = [date(2026, 10, d) for d in range(1, 8)]  # National Day: 1-7 Oct off
    assert not any(cal.is_working_day(d) for d in national)
    assert not cal.is_working_day(date(2026, 1, 1)) and not cal.is_working_day(date(2026, 1, 2))
    assert not cal.is_working_day(date(2026, 5, 5))


def test_2026_working_day_arithmetic_by_hand(policy: Policy) -> None:
    cal = policy.calendar("cn")
    # Fri 13 Feb: Sat 14 (make-up) is 1; 15-23 off; Tue 24 is 2, Wed 25 is 3
    assert cal.add_working_days(date(2026, 2, 13), 3) == date(2026, 2, 25)
    # Fri 27 Feb: Sat 28 is a make-up working day
    assert cal.add_working_days(date(2026, 2, 27), 1) == date(2026, 2, 28)
    # Wed 31 Dec 2025: 1 and 2 Jan off, Sat 3 off, Sun 4 (make-up) is 1, Mon 5 is 2
    assert cal.add_working_days(date(2025, 12, 31), 2) == date(2026, 1, 5)
    # Wed 30 Sep: 1-7 Oct off; Thu 8 is 1, Fri 9 is 2, Sat 10 (make-up) is 3
    assert cal.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 9)
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 25)) == 3
    assert cal.beyond(date(2026, 2, 13), date(2026, 2, 25)) is None


def test_arithmetic_past_the_last_published_year_is_flagged(policy: Policy) -> None:
    cal = policy.calendar("cn")
    due = cal.add_working_days(date(2026, 12, 29), 3)  # Wed 30, Thu 31, then 2027 unknown
    assert due == date(2027, 1, 1)
    gap = cal.beyond(date(2026, 12, 29), due)
    assert gap is not None and "plain weekday count" in gap and "2026-12-31" in gap
    assert WorkingCalendar().beyond(date(2024, 3, 1), date(2024, 3, 6)) is not None


def test_engine_warns_when_a_deletion_deadline_passes_the_calendar(policy: Policy) -> None:
    p = person("P1")
    r = record("R1", "P1", REFUSES, date(2026, 6, 1))
    late = event("V1", "R1", "rectified", date(2026, 12, 29))
    st = evaluate(policy, p, [r], [late], [], date(2026, 12, 30))
    flagged = [w for w in st.warnings if "plain weekday count" in w]
    assert flagged and "2026-12-29 to 2027-01-01" in flagged[0]
    body = explain(policy, st)
    assert flagged[0] in body["warnings"]  # the service's JSON and --json
    assert f"warning: {flagged[0]}" in render(body)  # the CLI's text view
    early = event("V1", "R1", "rectified", date(2026, 3, 2))
    ok = evaluate(policy, p, [r], [early], [], date(2026, 3, 3))
    assert not [w for w in ok.warnings if "weekday count" in w]


def test_calendar_dates_outside_its_published_range_are_refused(write_policy) -> None:  # type: ignore[no-untyped-def]
    text = """[preset]
id = "pp"
title = "p"
[[preset.sources]]
id = "ss"
title = "s"
url = "https://example.org"
[[calendar]]
id = "cn"
title = "test calendar"
published_from = 2024-01-01
published_to = 2024-12-31
holidays = [2025-01-01]
"""
    with pytest.raises(Exception, match=r"outside published_from\.\.published_to"):
        load_policy(write_policy({"preset.toml": text}))
