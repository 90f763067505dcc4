"""The court list of dishonest judgment debtors and the 2016 joint punishment memorandum.

Worked by hand from the SPC rules (Fa Shi (2017) No. 7, Fa Fa (2019) No. 35): grace before
publication (the preset grants 1 month, within
the documented 1–3), deletion within 3 working days of performance, spending restrictions
(air yes, ordinary trains no), a unit's legal representative restricted only where a clause
says so.
"""

from __future__ import annotations

from datetime import date

from builders import event, firm, link, person, record
from xinyong.engine import decide, evaluate
from xinyong.model import EntryStatus

REFUSES = "judicial.debtor.refuses_to_perform"
AIR = "transport.air.ticket"


def standing(policy, subject, recs, as_of, events=(), links=(), related=()):  # type: ignore[no-untyped-def]
    return evaluate(policy, subject, recs, list(events), list(links), as_of,
                    related=list(related))


def test_listed_only_after_the_grace_period(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    r = record("R1", "P1", REFUSES, date(2024, 1, 10))
    before = standing(policy, p, [r], date(2024, 2, 9))
    (entry,) = [e for e in before.entries if e.list == "spc.dishonest_debtors"]
    assert entry.status is EntryStatus.PENDING and entry.start == date(2024, 2, 10)
    assert decide(before, AIR).effect.value == "allow"
    after = standing(policy, p, [r], date(2024, 2, 10))
    assert decide(after, AIR).effect.value == "deny"


def test_air_ticket_denied_with_reasons_citing_memorandum_and_law(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    st = standing(policy, p, [record("R1", "P1", REFUSES, date(2024, 1, 10))], date(2024, 6, 1))
    d = decide(st, AIR)
    assert d.effect.value == "deny"
    assert d.measures == ("transport.air.ticket",)
    (reason,) = d.reasons
    assert reason.memorandum == "fagaicaijin-2016-141"
    assert "FaGaiCaiJin (2016) No. 141" in reason.memorandum_number
    assert reason.list == "spc.dishonest_debtors"
    assert reason.records == ("R1",)
    assert reason.applied_by == "caac"
    assert any(b.startswith("spc-high-consumption") for b in reason.legal_basis)
    assert "civil-procedure-law" in reason.legal_basis  # the record's own basis
    assert any("3 working days" in x for x in reason.lift)


def test_ordinary_train_ticket_stays_allowed(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    st = standing(policy, p, [record("R1", "P1", REFUSES, date(2024, 1, 10))], date(2024, 6, 1))
    assert decide(st, "transport.rail.highspeed.ticket").effect.value == "deny"
    ordinary = decide(st, "transport.rail.ordinary.ticket")
    assert ordinary.effect.value == "allow" and ordinary.reasons == ()


def test_performed_on_a_friday_off_the_list_within_three_working_days(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    r = record("R1", "P1", REFUSES, date(2024, 1, 10))
    done = event("V1", "R1", "rectified", date(2024, 3, 1))  # Friday 1 March 2024
    tuesday = standing(policy, p, [r], date(2024, 3, 5), [done])
    (entry,) = tuesday.active_entries
    assert entry.end == date(2024, 3, 6)  # Mon 4, Tue 5, Wed 6 = 3 working days
    assert decide(tuesday, AIR).effect.value == "deny"
    wednesday = standing(policy, p, [r], date(2024, 3, 6), [done])
    assert wednesday.active_entries == ()
    assert decide(wednesday, AIR).effect.value == "allow"


def test_listed_firm_reaches_its_legal_representative_only_where_a_clause_says_so(policy):  # type: ignore[no-untyped-def]
    f, rep, holder = firm("E1"), person("P1"), person("P2")
    links = [link("E1", "P1", "legal_representative"), link("E1", "P2", "shareholder")]
    recs = [record("R1", "E1", REFUSES, date(2024, 1, 10))]
    on = date(2024, 6, 1)
    firm_st = standing(policy, f, recs, on, links=links, related=[rep, holder])
    assert decide(firm_st, "procurement.bid").effect.value == "deny"
    rep_st = standing(policy, rep, recs, on, links=links, related=[f, holder])
    assert rep_st.active_entries == ()  # not listed merely because the unit is
    air = decide(rep_st, AIR)
    assert air.effect.value == "deny"
    assert air.reasons[0].via == ("legal_representative",)
    assert air.reasons[0].listed_subject == "E1"
    assert decide(rep_st, "employment.civil_service.apply").effect.value == "allow"
    holder_st = standing(policy, holder, recs, on, links=links, related=[f, rep])
    assert decide(holder_st, AIR).effect.value == "allow"
    # once the link ends, so does the extended restriction
    ended = [link("E1", "P1", "legal_representative", end=date(2024, 5, 1))]
    assert decide(standing(policy, rep, recs, on, links=ended, related=[f]), AIR).effect.value \
        == "allow"


def test_conduct_triggers_list_for_two_years(policy) -> None:  # type: ignore[no-untyped-def]
    p = person("P1")
    r = record("R1", "P1", "judicial.debtor.evades_enforcement", date(2024, 1, 10))
    st = standing(policy, p, [r], date(2024, 6, 1))
    (entry,) = st.active_entries
    assert entry.start == date(2024, 2, 10)
    assert entry.planned_end == date(2026, 2, 10)  # 2 years from publication
    assert standing(policy, p, [r], date(2026, 2, 10)).active_entries == ()
