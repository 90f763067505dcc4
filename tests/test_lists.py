"""List-rule mechanics on a small policy written for the test: grace, planned end, extension
for repeated acts, automatic end at the maximum, repair only after the minimum, removal within N
working days of performance (with a holiday), and a rule repealed mid-listing."""

from __future__ import annotations

from datetime import date

import pytest

from builders import event, firm, record
from xinyong.engine import decide, evaluate
from xinyong.files import load_policy
from xinyong.model import EntryStatus

POLICY = """
[preset]
id = "pp"
title = "list mechanics"
[[preset.sources]]
id = "src"
title = "test"

[[law]]
id = "a-law"
title = "A law"
issued = 2000-01-01
rank = "law"

[[agency]]
id = "regulator"
name = "Regulator"
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[category]]
id = "violation"
title = "A violation"
domain = "government"
data_class = "penalty"
severity = "serious"
subject_kinds = ["enterprise"]
agencies = ["regulator"]
national_catalog = true
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[action]]
id = "bid"
title = "Bid"
context = "procurement"

[[measure]]
id = "no-bid"
title = "No bidding"
kind = "restrict"
effect = "deny"
actions = ["bid"]
context = "procurement"
basic_list = true
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[list_rule]]
id = "black"
title = "Black list"
colour = "black"
authority = "regulator"
subject_kinds = ["enterprise"]
trigger = { categories = ["violation"] }
grace = "P10D"
duration = "P1Y"
extension = { by = "P6M", max = "P1Y" }
removal = { rectification_working_days = 2, application_after = "P3M", maximum = "P18M" }
effective_from = 2000-01-01
effective_to = 2030-01-01
legal_basis = ["a-law"]

[[memorandum]]
id = "memo"
number = "No. 1"
title = "Memo"
signed = 2000-01-01
signatories = ["regulator"]
effective_from = 2000-01-01
legal_basis = ["a-law"]
[[memorandum.clause]]
id = "cc"
list = "black"
measure = "no-bid"
applied_by = "regulator"
legal_basis = ["a-law"]

[[calendar]]
id = "cn"
title = "test calendar"
holidays = [2024-05-01, 2024-05-02, 2024-05-03]
workdays = [2024-04-28]
"""


@pytest.fixture
def small(write_policy):  # type: ignore[no-untyped-def]
    return load_policy(write_policy({"preset.toml": POLICY}))


def entries(policy, recs, as_of, events=()):  # type: ignore[no-untyped-def]
    st = evaluate(policy, firm("E1"), recs, list(events), [], as_of)
    return st, sorted(st.entries, key=lambda e: e.listed_on)


def test_grace_planned_end_and_extension_for_repeated_acts(small) -> None:  # type: ignore[no-untyped-def]
    r1 = record("R1", "E1", "violation", date(2024, 1, 1), agency="regulator")
    r2 = record("R2", "E1", "violation", date(2024, 2, 1), agency="regulator")
    r3 = record("R3", "E1", "violation", date(2024, 3, 1), agency="regulator")
    _, (e1, e2, e3) = entries(small, [r3, r1, r2], date(2024, 3, 20))
    assert (e1.start, e1.planned_end) == (date(2024, 1, 11), date(2025, 1, 11))
    assert (e2.start, e2.planned_end) == (date(2024, 2, 11), date(2025, 8, 11))  # +6 months
    assert (e3.start, e3.planned_end) == (date(2024, 3, 11), date(2026, 3, 11))  # +1 year max


def test_automatic_end_at_the_maximum(small) -> None:  # type: ignore[no-untyped-def]
    recs = [record(f"R{i}", "E1", "violation", date(2024, 1 + i, 1), agency="regulator")
            for i in range(3)]
    _, es = entries(small, recs, date(2025, 9, 11))
    third = es[2]  # planned 2026-03-11, but the maximum is 18 months from 2024-03-11
    assert third.end == date(2025, 9, 11) and third.end_reason == "maximum period reached"
    assert third.status is EntryStatus.ENDED


def test_repair_only_after_the_minimum(small) -> None:  # type: ignore[no-untyped-def]
    r = record("R1", "E1", "violation", date(2024, 1, 1), agency="regulator")
    early = event("F1", "R1", "repaired", date(2024, 4, 10))  # minimum is 2024-04-11
    st, (e,) = entries(small, [r], date(2024, 6, 1), [early])
    assert e.status is EntryStatus.ACTIVE and e.earliest_application == date(2024, 4, 11)
    assert any("possible only from 2024-04-11" in w for w in st.warnings)
    on_time = event("F2", "R1", "repaired", date(2024, 4, 11))
    st, (e,) = entries(small, [r], date(2024, 6, 1), [on_time])
    assert e.status is EntryStatus.ENDED and e.end == date(2024, 4, 11)
    assert decide(st, "bid").effect.value == "allow"


def test_removal_within_working_days_skips_holidays_and_counts_make_up_days(small) -> None:  # type: ignore[no-untyped-def]
    r = record("R1", "E1", "violation", date(2024, 1, 1), agency="regulator")
    # performed Friday 26 April; Sun 28 April is a make-up working day → day 1; Mon 29 → day 2
    done = event("V1", "R1", "rectified", date(2024, 4, 26))
    _, (e,) = entries(small, [r], date(2024, 4, 28), [done])
    assert e.end == date(2024, 4, 29)
    # performed Tue 30 April; 1–3 May are holidays, 4–5 a weekend: Mon 6, Tue 7
    done = event("V2", "R1", "rectified", date(2024, 4, 30))
    _, (e,) = entries(small, [r], date(2024, 5, 6), [done])
    assert e.end == date(2024, 5, 7) and e.status is EntryStatus.ACTIVE


def test_no_entry_once_the_rule_is_repealed(small) -> None:  # type: ignore[no-untyped-def]
    r = record("R1", "E1", "violation", date(2029, 12, 1), agency="regulator")
    st, (e,) = entries(small, [r], date(2029, 12, 31))
    assert e.status is EntryStatus.ACTIVE
    st, es = entries(small, [r], date(2030, 1, 2))
    assert es == [] and decide(st, "bid").effect.value == "allow"


def test_a_later_valid_repair_counts_after_an_early_one(small) -> None:  # type: ignore[no-untyped-def]
    r = record("R1", "E1", "violation", date(2024, 1, 1), agency="regulator")
    early = event("F1", "R1", "repaired", date(2024, 2, 1))  # before 2024-04-11
    later = event("F2", "R1", "repaired", date(2024, 5, 1))
    st, (e,) = entries(small, [r], date(2024, 6, 1), [later, early])
    assert e.status is EntryStatus.ENDED and e.end == date(2024, 5, 1)
    assert any("2024-02-01 ignored" in w for w in st.warnings)
