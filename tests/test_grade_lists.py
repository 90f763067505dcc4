"""Grade-triggered list entries have a history: an entry starts on the first day of the
current unbroken run of the triggering grade and ends when the run ends, so its key, its
listing notice and a reviewer's confirmation carry over from day to day. Every date below is
worked out by hand from the rules written here or in the shipped presets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import pytest

from builders import Clock, firm, person, record
from xinyong.engine import decide, evaluate
from xinyong.files import load_policy
from xinyong.ledger.cases import load
from xinyong.ledger.store import Batch, Ledger
from xinyong.model import Effect, EntryStatus
from xinyong.policy.model import Policy
from xinyong.process.workflow import resolve, tick
from xinyong.standings import standing

POLICY = """
[preset]
id = "pp"
title = "grade lists"
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

# 100 points, -50 per violation in the last year: one violation is grade bad for a year
[[scheme]]
id = "pts"
title = "Points"
form = "deduction"
subject_kinds = ["enterprise"]
owner = "regulator"
base = 100
clamp = [0, 100]
grades = ["ok", "bad"]
bands = [{ grade = "ok", min = 60 }, { grade = "bad", min = 0 }]
effective_from = 2020-01-01
legal_basis = ["a-law"]
[[scheme.indicator]]
id = "violations"
categories = ["violation"]
points = -50
window = "P1Y"

[[list_rule]]
id = "bad"
title = "Graded bad"
colour = "black"
authority = "regulator"
subject_kinds = ["enterprise"]
trigger = { scheme = "pts", grades = ["bad"] }
removal = { application_after = "P0D" }
effective_from = 2020-01-01
legal_basis = ["a-law"]

[[list_rule]]
id = "long-bad"
title = "Graded bad for six months"
colour = "black"
authority = "regulator"
subject_kinds = ["enterprise"]
trigger = { list = "bad", held_for = "P6M" }
duration = "P1Y"
removal = { application_after = "P3M" }
effective_from = 2020-01-01
legal_basis = ["a-law"]

[[list_rule]]
id = "good"
title = "Graded ok (red list)"
colour = "red"
authority = "regulator"
subject_kinds = ["enterprise"]
trigger = { scheme = "pts", grades = ["ok"] }
effective_from = 2020-01-01
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
list = "bad"
measure = "no-bid"
applied_by = "regulator"
legal_basis = ["a-law"]

[[calendar]]
id = "cn"
title = "test calendar"
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    root = tmp_path_factory.mktemp("grade") / "policies" / "p"
    root.mkdir(parents=True)
    (root / "preset.toml").write_text(POLICY, encoding="utf-8")
    return load_policy(root.parent)


def _on(policy: Policy, lst: str, recs: list, day: date, registered: date = date(2010, 5, 1),
        known: datetime | None = None):  # type: ignore[no-untyped-def]
    st = evaluate(policy, firm("E1", registered=registered), recs, [], [], day, known_at=known)
    return [e for e in st.entries if e.list == lst], st


V1 = record("V1", "E1", "violation", date(2024, 1, 10), agency="regulator")


def test_a_grade_entry_starts_on_the_first_day_of_the_run_whatever_day_is_asked(small) -> None:  # type: ignore[no-untyped-def]
    # one violation on 10 Jan 2024: 50 points, bad, until it leaves the one-year window
    for day in (date(2024, 1, 10), date(2024, 3, 1), date(2024, 12, 31)):
        (e,), _ = _on(small, "bad", [V1], day)
        assert (e.listed_on, e.start, e.status, e.end) == (
            date(2024, 1, 10), date(2024, 1, 10), EntryStatus.ACTIVE, None)
        assert e.records == ("V1",)
    # the key is the same on every day of the run
    keys = {_on(small, "bad", [V1], date(2024, 1, 10) + timedelta(days=d))[0][0].key
            for d in range(0, 300, 7)}
    assert len(keys) == 1


def test_a_grade_entry_ends_when_the_run_ends_and_keeps_its_history(small) -> None:  # type: ignore[no-untyped-def]
    (e,), st = _on(small, "bad", [V1], date(2025, 2, 1))
    assert st.ratings["pts"].grade == "ok"
    assert (e.start, e.end, e.status) == (date(2024, 1, 10), date(2025, 1, 10), EntryStatus.ENDED)
    assert "2025-01-10" in (e.end_reason or "")
    # on the last day of the window the run still holds
    (e,), _ = _on(small, "bad", [V1], date(2025, 1, 9))
    assert e.status is EntryStatus.ACTIVE


def test_a_red_list_by_grade_starts_when_the_scheme_or_the_firm_begins(small) -> None:  # type: ignore[no-untyped-def]
    # a firm with nothing against it is ok from the scheme's first day (1 Jan 2020)
    (e,), _ = _on(small, "good", [], date(2023, 6, 1))
    assert e.start == date(2020, 1, 1)
    # ... or from its registration, if later; and before it there is no grade at all
    (e,), _ = _on(small, "good", [], date(2023, 6, 1), registered=date(2022, 3, 1))
    assert e.start == date(2022, 3, 1)
    entries, st = _on(small, "good", [], date(2021, 6, 1), registered=date(2022, 3, 1))
    assert entries == [] and "pts" not in st.ratings
    # a bad year splits the red list in two runs: 2020-01-01..2024-01-10, then from 2025-01-10
    runs, _ = _on(small, "good", [V1], date(2025, 6, 1))
    assert [(e.start, e.end, e.status) for e in sorted(runs, key=lambda e: e.start)] == [
        (date(2020, 1, 1), date(2024, 1, 10), EntryStatus.ENDED),
        (date(2025, 1, 10), None, EntryStatus.ACTIVE)]


def test_a_held_for_rule_on_a_grade_list_fires_after_its_period(small) -> None:  # type: ignore[no-untyped-def]
    # bad from 10 Jan 2024: six months later, 10 Jul 2024, the firm is on long-bad
    assert _on(small, "long-bad", [V1], date(2024, 7, 9))[0] == []
    (e,), _ = _on(small, "long-bad", [V1], date(2024, 7, 10))
    assert (e.listed_on, e.start, e.planned_end, e.status) == (
        date(2024, 7, 10), date(2024, 7, 10), date(2025, 7, 10), EntryStatus.ACTIVE)
    # it outlives the grade run (ended 10 Jan 2025) and ends at its own planned end
    (e,), _ = _on(small, "long-bad", [V1], date(2025, 3, 1))
    assert e.status is EntryStatus.ACTIVE
    (e,), _ = _on(small, "long-bad", [V1], date(2025, 7, 10))
    assert e.status is EntryStatus.ENDED
    # a second violation before the first leaves the window keeps one unbroken run
    v2 = record("V2", "E1", "violation", date(2024, 12, 1), agency="regulator")
    (e,), _ = _on(small, "bad", [V1, v2], date(2025, 6, 1))
    assert (e.start, e.end) == (date(2024, 1, 10), None)  # V2 is in the window until Dec 2025


def test_as_of_replay_reproduces_every_past_decision_and_entry(small) -> None:  # type: ignore[no-untyped-def]
    v0 = record("V0", "E1", "violation", date(2023, 11, 1), agency="regulator",
                recorded=datetime(2024, 4, 1, 9))  # back-dated, learned of on 1 Apr 2024
    days = [date(2024, 1, 1) + timedelta(days=d) for d in range(0, 200, 5)]
    seen = {}
    for day in days:  # what the platform said each day, with what it knew that day
        known = datetime.combine(day, time.max)
        recs = [r for r in (V1, v0) if r.recorded_at <= known]
        entries, st = _on(small, "bad", recs, day, known=known)
        seen[day] = (decide(st, "bid").effect, [(e.start, e.end) for e in entries])
    # before 1 Apr the run began with V1 (10 Jan); once V0 is known it began on 1 Nov 2023
    assert seen[date(2024, 3, 1)] == (Effect.DENY, [(date(2024, 1, 10), None)])
    assert seen[date(2024, 4, 5)][1] == [(date(2023, 11, 1), None)]
    for day in days:  # replayed later, with everything in the store, as known that day
        entries, st = _on(small, "bad", [V1, v0], day, known=datetime.combine(day, time.max))
        assert (decide(st, "bid").effect, [(e.start, e.end) for e in entries]) == seen[day]


# --- on the ledger, with tick: notices and confirmations carry over ---------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 2, 6, 9))


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url, clock=clock)
    yield led
    led.dispose()


def test_a_poor_firm_is_noticed_once(policy: Policy, ledger: Ledger, clock: Clock) -> None:
    # the 2019 appraisal weighs court .30, tax .25, market regulation .20, penalties .25 over
    # three years. Two penalties (bin <=3: 30 points) and six late filings (bin >5: 0 points)
    # give 30 + 0 + 20 + 7.5 = 57.5 < 60: poor from the sixth filing, 6 Feb 2024
    # (after five filings the tax bin is 40: 30 + 10 + 20 + 7.5 = 67.5, medium).
    f = firm("E7", "某某贸易有限公司")
    recs = [record(f"PEN{i}", "E7", "admin.penalty.general", date(2024, 1, 4 + i),
                   agency="samr") for i in (1, 2)]
    recs += [record(f"LF{i}", "E7", "tax.late_filing", date(2024, 2, i), agency="sat")
             for i in range(1, 7)]
    ledger.write(Batch(subjects=[f], records=recs))
    for _ in range(7):
        tick(ledger, policy)
        st = standing(ledger, policy, f, clock.today)
        (e,) = [e for e in st.entries if e.list == "ndrc.appraisal_poor"]
        assert (e.start, e.status) == (date(2024, 2, 6), EntryStatus.ACTIVE)
        clock.advance(1)
    served = [n for n in _notices(ledger) if n.startswith("listing/ndrc.appraisal_poor:")]
    assert len(served) == 1
    # the first penalty leaves the window on 5 Jan 2027: penalties 1 → 60 × .25 = 15, so
    # 30 + 0 + 20 + 15 = 65, medium. The entry ends then and a removal notice follows.
    clock.set(datetime(2027, 1, 6, 9))
    tick(ledger, policy)
    st = standing(ledger, policy, f, clock.today)
    (e,) = [e for e in st.entries if e.list == "ndrc.appraisal_poor"]
    assert (e.start, e.end, e.status) == (date(2024, 2, 6), date(2027, 1, 5), EntryStatus.ENDED)
    assert [n for n in _notices(ledger) if n.startswith("removal/ndrc.appraisal_poor:")] \
        == [f"removal/{e.key}"]


def _notices(ledger: Ledger) -> list[str]:
    from sqlalchemy import select

    from xinyong.ledger import tables as t

    with ledger.engine.connect() as conn:
        return [r.id for r in conn.execute(select(t.notices.c.id))]


def test_a_reviewers_confirmation_holds_across_a_week_of_ticks(
        policy: Policy, ledger: Ledger, clock: Clock) -> None:
    # Suining (320324), 2012: 1000 points, -30 a loan default. Thirteen defaults leave 610
    # (C, from 600); the fourteenth, on 14 Mar 2012, leaves 580: grade D from that day, and
    # D denies a business licence, a significant measure a person must confirm.
    clock.set(datetime(2012, 3, 15, 9))
    p = person("S1", "王五", region="320324")
    recs = [record(f"LD{i}", "S1", "suining.finance.loan_default", date(2012, 3, i),
                   agency="suining.finance-office") for i in range(1, 15)]
    ledger.write(Batch(subjects=[p], records=recs))
    assert tick(ledger, policy).reviews_opened == 1
    (case,) = [c for c in load(ledger, kind="review") if c.open]
    resolve(ledger, policy, case.id, "confirmed", "defaults checked", "reviewer:王芳")
    for _ in range(7):
        st = standing(ledger, policy, p, clock.today)
        (e,) = [e for e in st.entries if e.list == "suining.grade_d"]
        assert e.start == date(2012, 3, 14)
        assert decide(st, "licence.apply").effect is Effect.DENY
        assert tick(ledger, policy).reviews_opened == 0
        clock.advance(1)
    assert len([n for n in _notices(ledger) if n.startswith("listing/suining.grade_d:")]) == 1
