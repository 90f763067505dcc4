"""Due process in the pure engine: open objections mark, reviewers confirm.

Worked by hand from the shipped policies: a refusal to perform effective 10 Jan 2024 puts the
debtor on spc.dishonest_debtors from 10 Feb 2024 (one month's grace), so the entry key is
``spc.dishonest_debtors:<subject>:2024-02-10``. The air-ticket ban is significant (PIPL
Art. 24: a person must confirm); strict licence review is not. A small policy written here adds
a non-significant ban, a significant condition and a significant reward.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import firm, link, person, record
from xinyong.cli.render import render
from xinyong.engine import decide, evaluate
from xinyong.engine.explain import decision_data, explain, public_view
from xinyong.files import load_policy
from xinyong.model import DueProcess, Effect, grade_key, list_key, record_key

REFUSES = "judicial.debtor.refuses_to_perform"
EVADES = "judicial.debtor.evades_enforcement"
AIR = "transport.air.ticket"
COURT = "spc.dishonest_debtors"
ON = date(2024, 6, 1)
P1_ENTRY = f"{COURT}:P1:2024-02-10:R1"


def r1(subject: str = "P1"):  # type: ignore[no-untyped-def]
    return record("R1", subject, REFUSES, date(2024, 1, 10))


# --- no due process: the documented rules alone ------------------------------------------


def test_without_due_process_a_listed_debtor_is_denied_air_tickets(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    st_ = evaluate(policy, p, [r1()], [], [], ON)
    assert st_ == evaluate(policy, p, [r1()], [], [], ON, due=None)
    d = decide(st_, AIR)
    assert d.effect is Effect.DENY and d.measures == (AIR,)
    (reason,) = d.reasons
    assert reason.pending_review is False and reason.disputed == ()
    assert st_.disputed == frozenset()
    assert all(not m.pending_review for m in st_.measures)


def test_entry_key_is_list_subject_and_start(policy) -> None:  # type: ignore[no-untyped-def]
    st_ = evaluate(policy, person("P1"), [r1()], [], [], ON)
    (entry,) = st_.entries
    assert entry.key == P1_ENTRY
    assert (record_key("R1"), list_key("P1", COURT), grade_key("E1", "sat.tax_credit")) == (
        "record:R1", f"list:P1:{COURT}", "grade:E1:sat.tax_credit")


# --- confirmation of significant measures --------------------------------------------------


def test_a_significant_measure_awaits_a_reviewer_until_its_entry_is_confirmed(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    pending = decide(evaluate(policy, p, [r1()], [], [], ON, due=DueProcess()), AIR)
    assert pending.effect is Effect.REVIEW and pending.effect.value == "refer_to_reviewer"
    assert pending.measures == (AIR,)
    (reason,) = pending.reasons
    assert reason.pending_review is True and reason.measure == AIR and reason.records == ("R1",)
    # a confirmation of another entry (other start, other subject, other record) does not count
    other = DueProcess(confirmed=frozenset({
        f"{COURT}:P1:2024-01-10:R1", f"{COURT}:P2:2024-02-10:R1", f"{COURT}:P1:2024-02-10:R9"}))
    assert decide(evaluate(policy, p, [r1()], [], [], ON, due=other), AIR).effect is Effect.REVIEW
    confirmed = DueProcess(confirmed=frozenset({P1_ENTRY}))
    d = decide(evaluate(policy, p, [r1()], [], [], ON, due=confirmed), AIR)
    assert d.effect is Effect.DENY and d.measures == (AIR,)
    assert d.reasons[0].pending_review is False


def test_a_non_significant_restriction_needs_no_confirmation(policy) -> None:  # type: ignore[no-untyped-def]
    st_ = evaluate(policy, person("P1"), [r1()], [], [], ON, due=DueProcess())
    d = decide(st_, "licence.apply")  # licence.strict_review: restrict/condition, not significant
    assert d.effect is Effect.CONDITIONS and d.measures == ("licence.strict_review",)
    assert [r.pending_review for r in d.reasons] == [False]


SMALL = """
[preset]
id = "dp"
title = "due process"
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

[[category]]
id = "honour"
title = "An honour"
domain = "government"
data_class = "honour"
severity = "minor"
subject_kinds = ["enterprise"]
agencies = ["regulator"]
national_catalog = true
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[action]]
id = "bid"
title = "Bid"
context = "procurement"

[[action]]
id = "subsidy"
title = "Apply for a subsidy"
context = "public_funds"

[[action]]
id = "licence"
title = "Apply for a licence"
context = "licensing"

[[measure]]
id = "no-bid"
title = "No bidding"
kind = "restrict"
effect = "deny"
actions = ["bid"]
context = "procurement"
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[measure]]
id = "barred"
title = "Barred from public funds and bids"
kind = "restrict"
effect = "deny"
actions = ["bid", "subsidy"]
context = "public_funds"
significant = true
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[measure]]
id = "strict-licence"
title = "Licence reviewed strictly"
kind = "restrict"
effect = "condition"
condition = "full review"
actions = ["licence"]
context = "licensing"
significant = true
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[measure]]
id = "fast-licence"
title = "Fast-track licence"
kind = "reward"
effect = "benefit"
actions = ["licence"]
context = "licensing"
significant = true
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[list_rule]]
id = "black"
title = "Black list"
colour = "black"
authority = "regulator"
subject_kinds = ["enterprise"]
trigger = { categories = ["violation"] }
duration = "P1Y"
effective_from = 2000-01-01
legal_basis = ["a-law"]

[[list_rule]]
id = "red"
title = "Red list"
colour = "red"
authority = "regulator"
subject_kinds = ["enterprise"]
trigger = { categories = ["honour"] }
duration = "P1Y"
effective_from = 2000-01-01
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
id = "c-no-bid"
list = "black"
measure = "no-bid"
applied_by = "regulator"
legal_basis = ["a-law"]
[[memorandum.clause]]
id = "c-barred"
list = "black"
measure = "barred"
applied_by = "regulator"
legal_basis = ["a-law"]
[[memorandum.clause]]
id = "c-strict"
list = "black"
measure = "strict-licence"
applied_by = "regulator"
legal_basis = ["a-law"]
[[memorandum.clause]]
id = "c-fast"
list = "red"
measure = "fast-licence"
applied_by = "regulator"
legal_basis = ["a-law"]

[[calendar]]
id = "cn"
title = "test calendar"
"""

BLACK = "black:E1:2024-01-01:V0"  # no grace: listed from the record's effective date


@pytest.fixture
def small(write_policy):  # type: ignore[no-untyped-def]
    return load_policy(write_policy({"preset.toml": SMALL}))


def _small_standing(policy, cats, due):  # type: ignore[no-untyped-def]
    recs = [record(f"V{i}", "E1", c, date(2024, 1, 1), agency="regulator")
            for i, c in enumerate(cats)]
    return evaluate(policy, firm("E1"), recs, [], [], ON, due=due)


def test_a_non_significant_ban_denies_while_a_significant_one_waits(small) -> None:  # type: ignore[no-untyped-def]
    st_ = _small_standing(small, ["violation"], DueProcess())
    bid = decide(st_, "bid")
    assert bid.effect is Effect.DENY
    assert bid.measures == ("no-bid",)  # the pending ban did not decide
    assert {(r.measure, r.pending_review) for r in bid.reasons} == {("no-bid", False),
                                                                     ("barred", True)}
    subsidy = decide(st_, "subsidy")
    assert subsidy.effect is Effect.REVIEW and subsidy.measures == ("barred",)
    confirmed = _small_standing(small, ["violation"], DueProcess(confirmed=frozenset({BLACK})))
    assert decide(confirmed, "subsidy").effect is Effect.DENY
    assert set(decide(confirmed, "bid").measures) == {"no-bid", "barred"}


def test_a_significant_condition_waits_and_rewards_are_never_pending(small) -> None:  # type: ignore[no-untyped-def]
    both = _small_standing(small, ["violation", "honour"], DueProcess())
    d = decide(both, "licence")
    assert d.effect is Effect.REVIEW and d.measures == ("strict-licence",)
    reward = next(r for r in d.reasons if r.measure == "fast-licence")
    assert reward.pending_review is False and reward.overridden is True
    red_only = _small_standing(small, ["honour"], DueProcess())
    assert all(not m.pending_review for m in red_only.measures)
    assert decide(red_only, "licence").effect is Effect.ALLOW
    confirmed = _small_standing(small, ["violation", "honour"],
                                DueProcess(confirmed=frozenset({BLACK})))
    assert decide(confirmed, "licence").effect is Effect.CONDITIONS
    # without due process nothing waits
    assert decide(_small_standing(small, ["violation"], None), "subsidy").effect is Effect.DENY


# --- objections ----------------------------------------------------------------------------


def test_a_disputed_record_marks_what_rests_on_it_and_suspends_nothing(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    r2 = record("R2", "P1", EVADES, date(2024, 3, 1))  # listed from 1 April 2024
    recs = [r1(), r2]
    keys = frozenset({P1_ENTRY, f"{COURT}:P1:2024-04-01:R2"})
    plain = evaluate(policy, p, recs, [], [], ON, due=DueProcess(confirmed=keys))
    disputed = evaluate(policy, p, recs, [], [], ON,
                        due=DueProcess(disputed=frozenset({"record:R1", "record:ZZ"}),
                                       confirmed=keys))
    assert disputed.disputed == frozenset({"record:R1"})  # ZZ is not this subject's
    assert plain.disputed == frozenset()
    d = decide(disputed, AIR)
    assert d.effect is Effect.DENY and decide(plain, AIR).effect is Effect.DENY
    by_records = {r.records: r.disputed for r in d.reasons}
    assert by_records == {("R1",): ("record:R1",), ("R2",): ()}
    assert all(r.disputed == () for r in decide(plain, AIR).reasons)
    # every reason resting on R1, on every action: the 14 court clauses govern 20 actions
    on_r1 = [r for a in disputed.by_action for r in decide(disputed, a).reasons
             if r.records == ("R1",)]
    assert len(on_r1) == 20 and all(r.disputed == ("record:R1",) for r in on_r1)


def test_a_disputed_entry_is_on_every_reason_from_it(policy) -> None:  # type: ignore[no-untyped-def]
    due = DueProcess(disputed=frozenset({f"list:P1:{COURT}", "record:R1", f"list:P2:{COURT}"}))
    st_ = evaluate(policy, person("P1"), [r1()], [], [], ON, due=due)
    assert st_.disputed == frozenset({f"list:P1:{COURT}", "record:R1"})
    (reason,) = decide(st_, AIR).reasons
    assert reason.disputed == (f"list:P1:{COURT}", "record:R1")  # sorted
    assert decide(st_, AIR).effect is Effect.REVIEW  # disputed and unconfirmed: still waits


def test_the_legal_representative_sees_the_firms_disputed_record(policy) -> None:  # type: ignore[no-untyped-def]
    f, rep = firm("E1"), person("P1")
    links = [link("E1", "P1", "legal_representative")]
    recs = [r1("E1")]
    due = DueProcess(disputed=frozenset({"record:R1", f"list:E1:{COURT}", f"list:P9:{COURT}"}))
    st_ = evaluate(policy, rep, recs, [], links, ON, related=[f], due=due)
    assert st_.disputed == frozenset({"record:R1", f"list:E1:{COURT}"})
    d = decide(st_, AIR)
    assert d.effect is Effect.REVIEW
    (reason,) = d.reasons
    assert reason.via == ("legal_representative",) and reason.listed_subject == "E1"
    assert reason.disputed == (f"list:E1:{COURT}", "record:R1")
    assert reason.pending_review is True
    # the reviewer confirms the firm's entry, from which the measure reaches the representative
    firm_entry = f"{COURT}:E1:2024-02-10:R1"
    confirmed = DueProcess(disputed=due.disputed, confirmed=frozenset({firm_entry}))
    st2 = evaluate(policy, rep, recs, [], links, ON, related=[f], due=confirmed)
    assert decide(st2, AIR).effect is Effect.DENY
    assert decide(st2, AIR).reasons[0].disputed == (f"list:E1:{COURT}", "record:R1")


def test_a_disputed_grade_marks_the_rating_only(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    # in the 2023 tax rating, published 1 Apr 2024, and in the appraisal's three years
    recs = [record("T1", "E1", "tax.late_payment", date(2023, 1, 10), agency="sat")]
    due = DueProcess(disputed=frozenset({"grade:E1:sat.tax_credit", "grade:E2:sat.tax_credit"}))
    st_ = evaluate(policy, f, recs, [], [], ON, due=due)
    plain = evaluate(policy, f, recs, [], [], ON)
    tax = st_.ratings["sat.tax_credit"]
    assert tax.disputed is True and plain.ratings["sat.tax_credit"].disputed is False
    assert tax.grade == plain.ratings["sat.tax_credit"].grade == "A"
    assert st_.ratings["ndrc.enterprise_appraisal"].disputed is False
    assert st_.disputed == frozenset({"grade:E1:sat.tax_credit"})
    # a disputed record behind a contribution marks every rating it feeds
    by_record = evaluate(policy, f, recs, [], [], ON,
                         due=DueProcess(disputed=frozenset({"record:T1"})))
    assert {k for k, r in by_record.ratings.items() if r.disputed} == {
        "sat.tax_credit", "ndrc.enterprise_appraisal"}


# --- explanations ----------------------------------------------------------------------


def test_explanations_show_disputes_and_pending_review(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    due = DueProcess(disputed=frozenset({"record:R1"}))
    st_ = evaluate(policy, p, [r1()], [], [], ON, due=due)
    data = explain(policy, st_, AIR)
    reason = data["decision"]["reasons"][0]
    assert reason["disputed"] == ["record:R1"] and reason["pending_review"] is True
    assert data["decision"]["effect"] == "refer_to_reviewer"
    assert data["list_entries"][0]["disputed"] is True
    assert data["list_entries"][0]["key"] == P1_ENTRY
    json.dumps(data)  # still plain data
    text = render(data)
    assert "disputed: record:R1" in text
    assert "awaiting human review (significant measure)" in text
    assert decision_data(policy, st_, decide(st_, AIR))["reasons"][0]["pending_review"] is True
    plain = render(explain(policy, evaluate(policy, p, [r1()], [], [], ON), AIR))
    assert "disputed" not in plain and "awaiting human review" not in plain


def test_public_view_marks_disputed_entries_without_the_objection(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    recs = [r1("E1"), record("T1", "E1", "tax.late_payment", date(2024, 1, 10), agency="sat")]
    due = DueProcess(disputed=frozenset({f"list:E1:{COURT}", "grade:E1:sat.tax_credit"}))
    shown = public_view(policy, evaluate(policy, f, recs, [], [], ON, due=due))
    court = next(e for e in shown["list_entries"] if e["list"] == COURT)
    assert court["disputed"] is True
    assert {r["scheme"]: r["disputed"] for r in shown["ratings"]}.get("sat.tax_credit") is True
    text = json.dumps(shown)
    assert "list:E1" not in text and "grade:E1" not in text
    quiet = public_view(policy, evaluate(policy, f, recs, [], [], ON))
    assert all(e["disputed"] is False for e in quiet["list_entries"])


# --- order independence --------------------------------------------------------------------

_CATS = [REFUSES, EVADES, "tax.evasion", "tax.late_payment"]


@st.composite
def _case(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 6))
    recs = []
    for i in range(n):
        subject = draw(st.sampled_from(["E1", "P1"]))
        cat = draw(st.sampled_from(_CATS if subject == "E1" else _CATS[:2]))
        day = date.fromordinal(date(2023, 1, 1).toordinal() + draw(st.integers(0, 500)))
        amounts = {"tax_evaded": 150000, "tax_payable": 900000} if cat == "tax.evasion" else {}
        recs.append(record(f"R{i}", subject, cat, day, agency="x", **amounts))
    disputed = draw(st.sets(st.sampled_from([f"record:R{i}" for i in range(n)]
                                            + [f"list:E1:{COURT}", "grade:E1:sat.tax_credit"])))
    return recs, frozenset(disputed), draw(st.booleans()), draw(st.randoms(use_true_random=False))


@settings(max_examples=30, deadline=None)
@given(_case())
def test_order_of_records_never_matters_with_due_process(policy, case) -> None:  # type: ignore[no-untyped-def]
    recs, disputed, confirm_half, rnd = case
    subjects = [firm("E1"), person("P1")]
    links = [link("E1", "P1", "legal_representative")]
    day = date(2024, 9, 1)
    confirmed: frozenset[str] = frozenset()
    if confirm_half:  # confirm every other entry key found without due process
        keys = sorted({e.key for s in subjects for e in evaluate(
            policy, s, recs, [], links, day, related=subjects).entries})
        confirmed = frozenset(keys[::2])
    due = DueProcess(disputed=disputed, confirmed=confirmed)

    def view(rs):  # type: ignore[no-untyped-def]
        out = []
        for s in subjects:
            stg = evaluate(policy, s, rs, [], links, day, related=subjects, due=due)
            decisions = {}
            for a in sorted(policy.actions):
                d = decide(stg, a)
                decisions[a] = (d.effect, sorted(d.measures), sorted(d.reasons, key=repr))
            out.append((stg.disputed, sorted(stg.ratings.items()), decisions))
        return out

    shuffled = list(recs)
    rnd.shuffle(shuffled)
    assert view(recs) == view(shuffled)
