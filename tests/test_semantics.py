"""Semantics that must hold: as-of reproduction, order independence, revocation, publicity."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import event, firm, link, person, record
from xinyong.engine import decide, evaluate

REFUSES = "judicial.debtor.refuses_to_perform"
AIR = "transport.air.ticket"


def test_past_decision_is_reproduced_exactly_after_later_records_arrive(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    r1 = record("R1", "P1", REFUSES, date(2024, 1, 10))
    day = date(2024, 6, 3)
    then = decide(evaluate(policy, p, [r1], [], [], day), AIR)
    assert then.effect.value == "deny"
    # later knowledge about the past: a back-dated performance and a late-arriving record
    performed = event("V1", "R1", "rectified", date(2024, 5, 20), datetime(2024, 7, 1, 9))
    late = record("R2", "P1", "judicial.debtor.evades_enforcement", date(2024, 3, 1),
                  recorded=datetime(2024, 9, 1, 9))
    replay = decide(evaluate(policy, p, [r1, late], [performed], [], day), AIR)
    assert replay == then
    # with today's knowledge the same valid date reads differently: performed Mon 20 May,
    # off the list on Thu 23 May; the late record's own entry starts 1 April
    now = evaluate(policy, p, [r1, late], [performed], [], day, known_at=datetime(2024, 12, 1))
    d = decide(now, AIR)
    assert d.effect.value == "deny" and [r.records for r in d.reasons] == [("R2",)]


def test_every_intermediate_decision_is_reproduced(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    history = [
        record("R1", "P1", REFUSES, date(2024, 1, 10)),
        record("R2", "P1", "judicial.debtor.evades_enforcement", date(2024, 2, 1),
               recorded=datetime(2024, 4, 1, 9)),
    ]
    events = [event("V1", "R1", "rectified", date(2024, 3, 1)),
              event("V2", "R2", "revoked", date(2024, 5, 1))]
    days = [date(2024, 1, 1), date(2024, 2, 12), date(2024, 3, 5), date(2024, 3, 6),
            date(2024, 4, 2), date(2024, 5, 2)]
    seen = []
    for i, day in enumerate(days):
        known_then = datetime.combine(day, datetime.max.time())
        recs = [r for r in history if r.recorded_at <= known_then]
        evs = [e for e in events if e.recorded_at <= known_then]
        seen.append(decide(evaluate(policy, p, recs, evs, [], day), AIR))
        # replay everything earlier with the full history
        for j in range(i + 1):
            assert decide(evaluate(policy, p, history, events, [], days[j]), AIR) == seen[j]
    assert [d.effect.value for d in seen] == ["allow", "deny", "deny", "allow", "deny", "allow"]


def test_a_revoked_record_has_no_effect_anywhere(policy) -> None:  # type: ignore[no-untyped-def]
    f, rep = firm("E1"), person("P1")
    links = [link("E1", "P1", "legal_representative")]
    recs = [record("R1", "E1", REFUSES, date(2024, 1, 10))]
    revoked = [event("X1", "R1", "revoked", date(2024, 4, 1))]
    for subject, related in ((f, [rep]), (rep, [f])):
        before = evaluate(policy, subject, recs, revoked, links, date(2024, 3, 31),
                          related=related)
        assert decide(before, AIR).effect.value == "deny"
        after = evaluate(policy, subject, recs, revoked, links, date(2024, 4, 1),
                         related=related)
        assert [e for e in after.entries if "R1" in e.records] == []
        assert [m for m in after.measures if m.kind == "restrict"] == []
        assert decide(after, AIR).effect.value == "allow"


_CATS = [REFUSES, "judicial.debtor.evades_enforcement", "tax.evasion", "tax.late_payment",
         "admin.penalty.general"]


@st.composite
def _case(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 8))
    recs = []
    for i in range(n):
        subject = draw(st.sampled_from(["E1", "E2", "P1"]))
        cat = draw(st.sampled_from(_CATS if subject != "P1" else _CATS[:2]))
        day = date(2023, 1, 1).fromordinal(date(2023, 1, 1).toordinal() + draw(st.integers(0, 500)))
        amounts = {"tax_evaded": draw(st.integers(50000, 200000)),
                   "tax_payable": draw(st.integers(100000, 2000000))} if cat == "tax.evasion" \
            else {}
        recs.append(record(f"R{i}", subject, cat, day, agency="x", **amounts))
    from decimal import Decimal

    from xinyong.model import EventKind, RecordEvent

    evs = []
    for r in recs:
        for _ in range(draw(st.integers(0, 3))):  # several events on one record, ties included
            kind = draw(st.sampled_from(["rectified", "revoked", "repaired", "corrected"]))
            day = date.fromordinal(r.effective.toordinal() + draw(st.sampled_from([30, 100, 400])))
            amounts = {"tax_evaded": Decimal(draw(st.integers(50000, 200000)))} \
                if kind == "corrected" else {}
            evs.append(RecordEvent(f"V{len(evs)}", r.id, EventKind(kind), day,
                                   datetime.combine(day, datetime.min.time()), amounts=amounts))
    return recs, evs, draw(st.randoms(use_true_random=False))


@settings(max_examples=40, deadline=None)
@given(_case())
def test_order_of_records_events_and_links_never_matters(policy, case) -> None:  # type: ignore[no-untyped-def]
    recs, evs, rnd = case
    subjects = [firm("E1"), firm("E2"), person("P1")]
    links = [link("E1", "P1", "legal_representative"), link("E1", "P1", "responsible_person"),
             link("E2", "P1", "responsible_person")]
    day = date(2024, 9, 1)

    def view(rs, es, ls):  # type: ignore[no-untyped-def]
        out = []
        for s in subjects:
            stg = evaluate(policy, s, rs, es, ls, day, related=subjects)
            out.append((sorted(stg.ratings.items()), sorted(stg.entries, key=repr),
                        {a: decide(stg, a) for a in sorted(policy.actions)}))
        return out

    base = view(recs, evs, links)
    rs, es, ls = list(recs), list(evs), list(links)
    rnd.shuffle(rs)
    rnd.shuffle(es)
    rnd.shuffle(ls)
    shuffled = view(rs, es, ls)
    for (r1, e1, d1), (r2, e2, d2) in zip(base, shuffled, strict=True):
        assert r1 == r2 and e1 == e2
        for a in d1:
            assert d1[a].effect == d2[a].effect
            assert sorted(d1[a].reasons, key=repr) == sorted(d2[a].reasons, key=repr)


def test_general_administrative_penalty_publicity(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    r = record("A1", "E1", "admin.penalty.general", date(2022, 1, 10), agency="samr")

    def shown(day, events=()):  # type: ignore[no-untyped-def]
        return [d.record for d in evaluate(policy, f, [r], list(events), [], day).displayed]

    assert shown(date(2025, 1, 9)) == ["A1"]
    assert shown(date(2025, 1, 10)) == []  # off at the 3-year maximum, automatically
    early = event("F1", "A1", "repaired", date(2022, 4, 9))  # a day before the 3-month minimum
    st_early = evaluate(policy, f, [r], [early], [], date(2022, 6, 1))
    assert [d.record for d in st_early.displayed] == ["A1"]
    assert st_early.displayed[0].earliest_repair == date(2022, 4, 10)
    on_time = event("F2", "A1", "repaired", date(2022, 4, 10))
    assert shown(date(2022, 4, 9), [on_time]) == ["A1"]
    assert shown(date(2022, 4, 10), [on_time]) == []
    # individuals' administrative penalties are not displayed at all
    p = person("P1")
    rp = record("A2", "P1", "admin.penalty.general", date(2022, 1, 10), agency="samr")
    assert evaluate(policy, p, [rp], [], [], date(2022, 6, 1)).displayed == ()


def test_public_view_shows_only_what_is_public(policy) -> None:  # type: ignore[no-untyped-def]
    from xinyong.engine.explain import public_view

    f = firm("E1")
    recs = [record("R1", "E1", REFUSES, date(2024, 1, 10)),
            record("A1", "E1", "admin.penalty.general", date(2024, 1, 10), agency="samr")]
    def black(v):  # type: ignore[no-untyped-def]
        return [e["list"] for e in v["list_entries"] if e["colour"] == "black"]

    pending = public_view(policy, evaluate(policy, f, recs, [], [], date(2024, 2, 1)))
    assert black(pending) == []  # still in the grace period: not published
    assert [d["id"] for d in pending["displayed"]] == ["A1"]
    shown = public_view(policy, evaluate(policy, f, recs, [], [], date(2024, 3, 1)))
    assert black(shown) == ["spc.dishonest_debtors"]
    schemes = policy.at(date(2024, 3, 1)).schemes
    assert all(schemes[r["scheme"]].public for r in shown["ratings"])
    p = person("P1", opt_ins=(("sesame", date(2020, 1, 1)),))
    st = evaluate(policy, p, [record("A2", "P1", "admin.penalty.general", date(2024, 1, 10),
                                     agency="samr")], [], [], date(2024, 3, 1))
    assert "sesame.score" in st.ratings  # rated for the person who opted in…
    pv = public_view(policy, st)
    assert pv["ratings"] == [] and pv["displayed"] == []  # …but never shown publicly


def test_corrections_at_the_same_instant_do_not_depend_on_input_order(policy) -> None:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    from xinyong.model import EventKind, RecordEvent

    f = firm("E1")
    ev = record("T1", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                tax_evaded=120000, tax_payable=1000000)
    when = datetime(2023, 4, 1, 9)
    c1 = RecordEvent("C1", "T1", EventKind.CORRECTED, date(2023, 4, 1), when,
                     amounts={"tax_evaded": Decimal(50000)})
    c2 = RecordEvent("C2", "T1", EventKind.CORRECTED, date(2023, 4, 1), when,
                     amounts={"tax_evaded": Decimal(150000)})
    # the 2023 rating, published 1 Apr 2024, carries the corrections of 1 Apr 2023
    grades = {evaluate(policy, f, [ev], order, [], date(2024, 6, 1)).ratings[
        "sat.tax_credit"].grade for order in ([c1, c2], [c2, c1])}
    assert grades == {"D"}  # ties are broken by event id: C2's 150,000 is applied last


def test_a_link_recorded_later_does_not_change_a_past_decision(policy) -> None:  # type: ignore[no-untyped-def]
    f, rep = firm("E1"), person("P1")
    recs = [record("R1", "E1", REFUSES, date(2024, 1, 10))]
    # registered in September, back-dated to 2015
    late = [link("E1", "P1", "legal_representative", recorded=datetime(2024, 9, 1))]
    day = date(2024, 6, 1)
    then = evaluate(policy, rep, recs, [], late, day, related=[f])
    assert decide(then, AIR).effect.value == "allow"
    now = evaluate(policy, rep, recs, [], late, day, related=[f], known_at=datetime(2024, 12, 1))
    assert decide(now, AIR).effect.value == "deny"


def test_revoked_record_leaves_no_trace_in_grades(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    ev = record("T1", "E1", "tax.evasion", date(2023, 3, 1), agency="sat",
                tax_evaded=120000, tax_payable=1000000)
    # D in the 2023 rating, published 1 Apr 2024; revoked on 1 May 2024, gone from that day
    gone = event("X1", "T1", "revoked", date(2024, 5, 1))
    assert evaluate(policy, f, [ev], [gone], [], date(2024, 4, 30)).ratings[
        "sat.tax_credit"].grade == "D"
    r = evaluate(policy, f, [ev], [gone], [], date(2024, 5, 1)).ratings["sat.tax_credit"]
    assert r.grade == "A" and r.adjustments == ()


def test_a_record_handed_in_twice_counts_once(policy) -> None:  # type: ignore[no-untyped-def]
    f = firm("E1")
    late = record("T1", "E1", "tax.late_filing", date(2023, 5, 1), agency="sat")
    r = evaluate(policy, f, [late, late], [], [], date(2024, 6, 1)).ratings["sat.tax_credit"]
    assert r.score == 95  # 100 − 5, once, in the 2023 rating published 1 Apr 2024
