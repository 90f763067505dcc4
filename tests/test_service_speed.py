"""Correctness of what makes decisions fast (speed itself is measured in
benchmarks/bench_service.py): the standings cache gives the decisions the plain path gives and
forgets them on any write that can change them; cases and standings read in bulk equal those
read one subject at a time; group-committed audit entries are all there, chained, verified."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from builders import firm, listed_debtor, person, record
from xinyong.dataset import Dataset
from xinyong.engine import decide
from xinyong.engine.explain import decision_data
from xinyong.ledger import tables as t
from xinyong.ledger.cases import load
from xinyong.ledger.payloads import _canonical_fast, canonical
from xinyong.ledger.store import Batch, Ledger, LedgerError
from xinyong.policy.model import Policy
from xinyong.process.workflow import file_objection, resolve, tick
from xinyong.service import Forbidden, NotFound, Principal, Service
from xinyong.sim.population import generate
from xinyong.standings import standing, standings

REFUSES = "judicial.debtor.refuses_to_perform"
AIR = "transport.air.ticket"
ON = date(2024, 3, 1)
E1, P1, P2 = firm("E1", "深圳某某科技有限公司"), person("P1", "李四"), person("P2", "王五")
CAAC = Principal("caac-1", "enforcer", agency="caac")


@pytest.fixture
def ledger(ledger_url: str, policy: Policy) -> Iterator[Ledger]:
    """As in test_api: E1 a listed debtor from 10 Feb 2024 (R1, effective 10 Jan, one month of
    grace); P1 its legal representative, the air-ticket ban confirmed by a reviewer; P2 has
    nothing."""
    led = listed_debtor(ledger_url, policy, E1, P1, P2)
    yield led
    led.dispose()


def plain(ledger: Ledger, policy: Policy, who: Principal,
          asks: list[tuple[str, str, date]]) -> list[dict[str, Any]]:
    """The decisions as computed before the cache: each ask on its own."""
    service = Service(ledger, policy)
    out = []
    for key, action, on in asks:
        st = service._signed_only(standing(ledger, policy, ledger.resolve(key, policy), on),
                                  who.agency)
        out.append(decision_data(policy, st, decide(st, action)))
    return out


def effect(service: Service, subject: str, on: date = ON) -> str:
    return str(service.decisions(CAAC, [(subject, AIR, on)])[0]["effect"])


# --- the cache ---------------------------------------------------------------------------------


def test_cached_decisions_equal_the_plain_path(ledger: Ledger, policy: Policy) -> None:
    ric = P1.identifiers[0].value
    days = [date(2024, 1, 15), ON, date(2025, 6, 1)]
    asks = [(k, a, d) for k in ("E1", "P1", "P2", ric) for a in
            (AIR, "transport.rail.highspeed.ticket", "procurement.bid") for d in days]
    asks += asks[::-1]  # every (subject, date) asked again in the same batch
    service = Service(ledger, policy)
    for who in (CAAC, Principal("mof-1", "enforcer", agency="mof"),
                Principal("hotel-1", "enforcer", agency="hotel-association")):
        expected = plain(ledger, policy, who, asks)
        assert service.decisions(who, asks) == expected  # cold: computed in bulk
        assert service.decisions(who, asks) == expected  # warm: from the cache
        assert [service.decisions(who, [a])[0] for a in asks[:9]] == expected[:9]
    # the worked example: P1 is denied (ban extended to the legal representative, confirmed)
    assert effect(service, "P1") == "deny" and effect(service, ric) == "deny"
    assert effect(service, "P2") == "allow"
    # before the listing (10 Feb, after a month's grace) nothing applies
    assert effect(service, "P1", date(2024, 2, 9)) == "allow"


def test_every_write_that_can_change_a_decision_empties_the_cache(
        ledger: Ledger, policy: Policy) -> None:
    service = Service(ledger, policy)
    assert effect(service, "P2") == "allow"
    g0 = ledger.generation()
    # a court record: P2 refuses to perform (effective 10 Jan, listed from 10 Feb after the
    # month's grace); the air-ticket ban is significant and unconfirmed, so it goes to a person
    ledger.write(Batch(records=[record("R2", "P2", REFUSES, date(2024, 1, 10))]))
    g1 = ledger.generation()
    assert g1 > g0
    assert effect(service, "P2") == "refer_to_reviewer"
    # tick serves P2 a listing notice and opens the human review (cases, case events,
    # notices all move the generation); a notice alone changes no decision
    tick(ledger, policy)
    g2 = ledger.generation()
    assert g2[1:] > g1[1:] and g2[3] > g1[3]
    assert effect(service, "P2") == "refer_to_reviewer"
    # a reviewer confirms (a case event): the ban applies
    review = next(c for c in load(ledger, kind="review", subjects=["P2"]))
    resolve(ledger, policy, review.id, "confirmed", "checked", "reviewer:王芳")
    assert ledger.generation()[2] > g2[2]
    assert effect(service, "P2") == "deny"
    # P2 objects and a reviewer upholds: R2 is revoked (a record event), nothing applies
    case = file_objection(ledger, policy, P2, "record:R2", "not me")
    assert effect(service, "P2") == "deny"  # disputed, still applied
    resolve(ledger, policy, case.id, "upheld", "wrong person", "reviewer:王芳")
    assert effect(service, "P2") == "allow"
    # throughout, the cache agreed with the plain path
    asks = [(s, AIR, ON) for s in ("E1", "P1", "P2")]
    assert service.decisions(CAAC, asks) == plain(ledger, policy, CAAC, asks)


def test_audit_entries_do_not_empty_the_cache(ledger: Ledger, policy: Policy) -> None:
    service = Service(ledger, policy)
    effect(service, "P1")
    before = ledger.generation()
    ledger.audit("x", "y", None, {})
    assert ledger.generation() == before


def test_another_policy_is_another_cache(ledger: Ledger, policy: Policy) -> None:
    from xinyong.files import load_policy
    from xinyong.standings import Cache

    service = Service(ledger, policy)
    assert effect(service, "P1") == "deny"
    cache = Cache.of(service)
    assert cache.state is not None and cache.state[1] is policy and cache.standings
    other = load_policy()  # an admin activates a version: another Policy object
    service.policy = other
    assert effect(service, "P1") == "deny"
    assert cache.state[1] is other and {k for k in cache.standings} == {("P1", ON)}


def test_errors_come_in_ask_order_as_before(ledger: Ledger, policy: Policy) -> None:
    service = Service(ledger, policy)
    with pytest.raises(NotFound, match="unknown action"):
        service.decisions(CAAC, [("P2", "no.such.action", ON), ("NOBODY", AIR, ON)])
    with pytest.raises(NotFound, match="no subject"):
        service.decisions(CAAC, [("NOBODY", AIR, ON), ("P2", "no.such.action", ON)])
    with pytest.raises(NotFound, match="no subject"):
        service.decisions(CAAC, [("P2", AIR, ON), ("NOBODY", AIR, ON)])
    # refusals are audited as before
    with ledger.engine.connect() as c:
        failed = c.execute(select(t.audit_log.c.action).where(
            t.audit_log.c.action == "failed:decisions")).all()
    assert len(failed) == 3


# --- bulk reads --------------------------------------------------------------------------------


@pytest.fixture
def population(ledger_url: str, policy: Policy) -> Iterator[tuple[Ledger, Any]]:
    pop = generate(policy, seed=3, persons=120, enterprises=30, public_bodies=3, social_orgs=3,
                   start=date(2024, 1, 1), end=date(2024, 12, 31))
    led = Ledger.open(ledger_url, clock=lambda: datetime(2024, 12, 31, 8))
    led.write(Batch(subjects=list(pop.subjects), links=list(pop.links),
                    records=list(pop.records), events=list(pop.events)))
    led.clock = lambda: datetime(2024, 12, 31, 12)
    tick(led, policy, until=date(2024, 12, 31))
    for case in load(led, kind="review")[::2]:
        resolve(led, policy, case.id, "confirmed", "checked", "reviewer:王芳")
    yield led, pop
    led.dispose()


def _ids(c: Any) -> tuple[Any, ...]:
    return (c.subject.id, sorted(r.id for r in c.records), sorted(e.id for e in c.events),
            sorted((lk.organisation, lk.party, lk.role.value, lk.start) for lk in c.links),
            sorted(s.id for s in c.related))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_neighbourhoods_in_bulk_equal_one_by_one(population: tuple[Ledger, Any],
                                                 depth: int) -> None:
    ledger, pop = population
    subjects = list(ledger.subjects().values())
    bulk = ledger.neighbourhoods(subjects, depth)
    memory = Dataset(pop.subjects, pop.links, pop.records, pop.events)
    assert set(bulk) == {s.id for s in subjects}
    for s in subjects:
        assert _ids(bulk[s.id]) == _ids(ledger.neighbourhood(s, depth)) == _ids(
            memory.neighbourhood(s, depth))
    # a few subjects alone get the same neighbourhoods as among all
    few = subjects[:7]
    assert {k: _ids(c) for k, c in ledger.neighbourhoods(few, depth).items()} == {
        s.id: _ids(bulk[s.id]) for s in few}


def test_standings_in_bulk_equal_standing_by_standing(population: tuple[Ledger, Any],
                                                      policy: Policy) -> None:
    ledger, _ = population
    subjects = list(ledger.subjects().values())
    on = date(2024, 12, 31)
    bulk = standings(ledger, policy, subjects, on)
    actions = sorted(policy.actions)
    for s in subjects:
        one = standing(ledger, policy, s, on)
        assert [decision_data(policy, bulk[s.id], decide(bulk[s.id], a)) for a in actions] == [
            decision_data(policy, one, decide(one, a)) for a in actions]


def test_screening_equals_the_plain_path(population: tuple[Ledger, Any],
                                         policy: Policy) -> None:
    ledger, _ = population
    on = date(2024, 12, 31)
    asks = [(s, a, on) for s in sorted(ledger.subjects()) for a in (AIR, "procurement.bid")]
    got = Service(ledger, policy).decisions(CAAC, asks)
    assert got == plain(ledger, policy, CAAC, asks)
    assert {d["effect"] for d in got} >= {"allow", "deny", "refer_to_reviewer"}


# --- the audit log: group commit ------------------------------------------------------------


def _audit_rows(ledger: Ledger) -> list[Any]:
    with ledger.engine.connect() as c:
        return list(c.execute(select(t.audit_log).order_by(t.audit_log.c.seq)))


def test_audit_entries_from_many_threads_all_chained(ledger: Ledger) -> None:
    before = len(_audit_rows(ledger))
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(25):
                ledger.audit(f"enforcer:t{n}", "decisions", f"P{i}", {"n": n, "i": i})
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    rows = _audit_rows(ledger)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    mine = rows[before:]
    assert len(mine) == 200
    assert sorted((r.actor, r.subject) for r in mine) == sorted(
        (f"enforcer:t{n}", f"P{i}") for n in range(8) for i in range(25))
    # each thread's own entries are in the order it wrote them
    for n in range(8):
        assert [r.subject for r in mine if r.actor == f"enforcer:t{n}"] == [
            f"P{i}" for i in range(25)]
    report = ledger.verify()
    assert report.ok, report.problem
    assert report.audit_entries == len(rows)


def test_a_failed_group_fails_its_callers_and_the_next_one_writes(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    before = len(_audit_rows(ledger))
    real = ledger._audit_chain
    calls = []

    def broken(last: Any, entries: Any) -> Any:
        calls.append(len(entries))
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return real(last, entries)

    monkeypatch.setattr(ledger, "_audit_chain", broken)
    with pytest.raises(RuntimeError):
        ledger.audit("a", "b", None, {"k": 1})
    ledger.audit("a", "c", None, {"k": 2})  # not stuck behind the failure
    rows = _audit_rows(ledger)
    assert len(rows) == before + 1 and rows[-1].action == "c"
    # a detail JSON cannot hold fails its own caller before it joins a group
    with pytest.raises(TypeError):
        ledger.audit("a", "d", None, {"k": {1, 2}})
    ledger.audit("a", "e", None, {"k": 3})
    assert [r.action for r in _audit_rows(ledger)[-2:]] == ["c", "e"]
    assert ledger.verify().ok


def test_audit_detail_text_is_the_canonical_json() -> None:
    from collections import OrderedDict

    values: list[Any] = [
        {}, {"b": 1, "a": [1, 2, (3, 4)], "c": None, "d": True, "e": 1.5},
        {"asks": [["P1", AIR, "2024-03-01"]] * 3, "effects": ["deny"]},
        {"on": date(2024, 3, 1), "at": datetime(2024, 2, 12, 9, 0, 0, 123),
         "amount": Decimal("150000.10"), "nested": OrderedDict([("z", 1), ("y", {"x": 2})])},
        {"名": "王五", "quote": 'he said "no"\n', "tab": "\t", "emoji": "\U0001f600"},
    ]
    for v in values:
        assert _canonical_fast(v) == canonical(v)


def test_ledger_errors_reach_every_caller_as_ledger_errors(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    def full(last: Any, entries: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(ledger, "_audit_chain", full)
    with pytest.raises(LedgerError, match="full"):
        ledger.audit("a", "b", None, {})


def test_a_database_error_in_an_audit_group_is_a_ledger_error_and_rolls_back(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver's own error (here a duplicate sequence number) reaches the caller as a
    LedgerError, nothing of the group is written, and the next entry is written normally."""
    real = ledger._audit_chain
    before = _audit_rows(ledger)

    def clash(last: Any, entries: Any) -> Any:
        rows = real(last, entries)
        return [*rows, {**rows[0], "seq": 1}]  # seq 1 exists already

    monkeypatch.setattr(ledger, "_audit_chain", clash)
    with pytest.raises(LedgerError, match="not written"):
        ledger.audit("a", "b", None, {})
    monkeypatch.setattr(ledger, "_audit_chain", real)
    assert len(_audit_rows(ledger)) == len(before)
    ledger.audit("a", "c", None, {})
    assert [r.action for r in _audit_rows(ledger)] == [r.action for r in before] + ["c"]
    assert ledger.verify().ok


def test_the_event_loop_path_decides_and_audits_as_the_thread_path(
        ledger: Ledger, policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    """decisions_async: cold, it takes the thread path; warm, it decides on the loop. Both give
    the thread path's answers (P1: the air-ticket ban reaches it, confirmed: deny; P2: allow)
    and leave exactly one audit entry per call. A refusal and an unknown action take the
    thread path, so they are refused and audited as there."""
    import asyncio

    service = Service(ledger, policy)
    asks = [("P1", AIR, ON), ("P2", AIR, ON)]
    expected = plain(ledger, policy, CAAC, asks)
    for warm in (False, True):
        if warm:  # the loop path must not need the thread path at all
            def thread_path(*_: Any) -> Any:
                raise AssertionError("took the thread path with every standing cached")
            monkeypatch.setattr(service, "decisions", thread_path)
        before = len(_audit_rows(ledger))
        got = asyncio.run(service.decisions_async(CAAC, asks))
        assert got == expected
        assert [o["effect"] for o in got] == ["deny", "allow"]
        rows = _audit_rows(ledger)
        assert len(rows) == before + 1
        assert (rows[-1].actor, rows[-1].action) == ("enforcer:caac-1", "decisions")
    monkeypatch.undo()
    before = len(_audit_rows(ledger))
    with pytest.raises(NotFound, match="unknown action"):
        asyncio.run(service.decisions_async(CAAC, [("P1", "no.such.action", ON)]))
    with pytest.raises(Forbidden):
        asyncio.run(service.decisions_async(Principal("rev-1", "reviewer"), asks))
    assert [r.action for r in _audit_rows(ledger)[before:]] == [
        "failed:decisions", "refused:decisions"]
    assert ledger.verify().ok
