"""The ledger on SQLite and PostgreSQL: append-only, hash-chained, verifiable, provable, and
reproducing any past state exactly."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from builders import Clock, event, firm, link, person, record
from xinyong import merkle
from xinyong.engine import decide
from xinyong.ledger.store import Batch, Conflict, Ledger, LedgerError
from xinyong.standings import standing

REFUSES = "judicial.debtor.refuses_to_perform"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 1, 10, 9))


@pytest.fixture
def ledger(ledger_url: str, clock: Clock):  # type: ignore[no-untyped-def]
    led = Ledger.open(ledger_url, clock=clock)
    yield led
    led.dispose()


E1, P1 = firm("E1"), person("P1")


def seed(ledger: Ledger) -> None:
    ledger.write(Batch(subjects=[E1, P1],
                       links=[link("E1", "P1", "legal_representative")],
                       records=[record("R1", "E1", REFUSES, date(2024, 1, 10))],
                       events=[event("V0", "R1", "corrected", date(2024, 1, 11))]))


def test_write_is_idempotent_and_conflicts_are_refused(ledger: Ledger) -> None:
    seed(ledger)
    before = ledger.counts()
    again = ledger.write(Batch(subjects=[E1],
                               records=[record("R1", "E1", REFUSES, date(2024, 1, 10))]))
    assert sum(again.written.values()) == 0 and again.unchanged["record"] == 1
    assert ledger.counts() == before
    changed = record("R1", "E1", "judicial.debtor.evades_enforcement", date(2024, 1, 10))
    with pytest.raises(Conflict, match="R1 is already recorded with different content"):
        ledger.write(Batch(records=[changed, record("R9", "E1", REFUSES, date(2024, 1, 11))]))
    assert ledger.counts() == before  # the whole batch was refused


@pytest.mark.parametrize("statement", [
    "UPDATE records SET category = 'x'",
    "DELETE FROM records",
    "UPDATE ledger SET leaf_hash = chain_hash",
    "DELETE FROM ledger",
    "DELETE FROM audit_log",
    "UPDATE record_events SET kind = 'revoked'",
])
def test_the_database_refuses_updates_and_deletes(ledger: Ledger, statement: str) -> None:
    seed(ledger)
    ledger.audit("tester", "read", "E1", {"why": "test"})
    with pytest.raises(Exception, match="append-only"), ledger.engine.begin() as c:
        c.execute(text(statement))
    assert ledger.verify().ok


def _tamper(ledger: Ledger, *statements: str) -> None:
    """An attacker with database access: lift the guard, change history."""
    with ledger.engine.begin() as c:
        if ledger.engine.dialect.name == "sqlite":
            for tbl in ("records", "ledger", "checkpoints"):
                for verb in ("update", "delete"):
                    c.execute(text(f"DROP TRIGGER IF EXISTS {tbl}_no_{verb}"))
        else:
            for tbl in ("records", "ledger", "checkpoints"):
                c.execute(text(f"DROP TRIGGER IF EXISTS {tbl}_append_only ON {tbl}"))
        for s in statements:
            c.execute(text(s))


def _grow(ledger: Ledger, clock: Clock, n: int = 5) -> None:
    seed(ledger)
    for i in range(n):
        clock.set(clock.now + timedelta(days=1))
        ledger.write(Batch(records=[record(f"R{i + 10}", "E1", "judicial.debtor.evades_enforcement",
                                           date(2024, 1, 11 + i))]))
    ledger.checkpoint()


def test_verify_passes_on_an_honest_ledger(ledger: Ledger, clock: Clock) -> None:
    _grow(ledger, clock)
    report = ledger.verify()
    assert report.ok and report.entries == 7 + 5 and report.checkpoints == 1


def test_verify_names_an_altered_record(ledger: Ledger, clock: Clock) -> None:
    _grow(ledger, clock)
    _tamper(ledger, "UPDATE records SET document_no = 'FORGED' WHERE id = 'R12'")
    report = ledger.verify()
    assert not report.ok and "record R12" in report.problem and "altered" in report.problem


def test_verify_names_a_removed_entry(ledger: Ledger, clock: Clock) -> None:
    _grow(ledger, clock)
    _tamper(ledger, "DELETE FROM ledger WHERE seq = 9", "DELETE FROM records WHERE id = 'R11'")
    report = ledger.verify()
    assert not report.ok and "ledger entry 9 removed" in report.problem


def test_verify_names_a_reordered_entry(ledger: Ledger, clock: Clock) -> None:
    _grow(ledger, clock)
    _tamper(ledger,
            "UPDATE ledger SET seq = 100 WHERE seq = 7",
            "UPDATE ledger SET seq = 7 WHERE seq = 8",
            "UPDATE ledger SET seq = 8 WHERE seq = 100")
    report = ledger.verify()
    assert not report.ok and "ledger entry 7" in report.problem and "reordered" in report.problem


def test_verify_names_a_row_inserted_behind_the_ledgers_back(ledger: Ledger,
                                                             clock: Clock) -> None:
    _grow(ledger, clock)
    with ledger.engine.begin() as c:
        c.execute(text(
            "INSERT INTO records (id, subject, category, agency, act_date, effective, "
            "document_no, legal_basis, amounts, recorded_at) VALUES ('RX', 'E1', "
            f"'{REFUSES}', 'courts', '2024-01-01', '2024-01-01', 'X', 'x', '{{}}', "
            "'2024-01-01 00:00:00')"))
    report = ledger.verify()
    assert not report.ok and "record RX" in report.problem and "not in the ledger" in report.problem


def test_inclusion_proof_checks_against_the_checkpoint(ledger: Ledger, clock: Clock) -> None:
    _grow(ledger, clock)
    proof = ledger.prove("R12")
    leaf = merkle.leaf_hash(proof["payload"].encode())
    assert leaf.hex() == proof["leaf_hash"]
    assert json.loads(proof["payload"])["id"] == "R12"
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    assert merkle.verify_inclusion(proof["leaf_index"], proof["tree_size"], leaf, hashes,
                                   bytes.fromhex(proof["root"]))
    forged = merkle.leaf_hash(proof["payload"].replace("R12", "R13").encode())
    assert not merkle.verify_inclusion(proof["leaf_index"], proof["tree_size"], forged, hashes,
                                       bytes.fromhex(proof["root"]))
    with pytest.raises(LedgerError, match="no record"):
        ledger.prove("NOPE")


def test_checkpoints_resume_and_match_a_full_recomputation(ledger: Ledger, clock: Clock) -> None:
    _grow(ledger, clock, 3)
    clock.set(clock.now + timedelta(days=30))
    ledger.write(Batch(records=[record("R99", "E1", REFUSES, date(2024, 3, 1))]))
    cp = ledger.checkpoint()
    assert cp is not None and cp["size"] == 7 + 3 + 1
    with ledger.engine.connect() as c:
        leaves = [bytes.fromhex(r[0]) for r in c.execute(
            text("SELECT leaf_hash FROM ledger ORDER BY seq"))]
    assert merkle.root(leaves).hex() == cp["root"]
    assert ledger.checkpoint() is None  # nothing new
    assert ledger.verify().ok


def test_as_of_replays_what_was_known_then(policy, ledger: Ledger, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """Replay a history through the store; every intermediate decision is reproduced,
    reviewers' confirmations included."""
    from xinyong.process.workflow import resolve, tick

    def confirm_reviews(led: Ledger) -> None:
        tick(led, policy)
        from xinyong.ledger.cases import load
        for case in load(led, kind="review"):
            if case.open:
                resolve(led, policy, case.id, "confirmed", "checked the court's decision",
                        "reviewer:王芳")

    history = [
        (datetime(2024, 1, 10, 9), Batch(subjects=[E1, P1], links=[
            link("E1", "P1", "legal_representative")],
            records=[record("R1", "E1", REFUSES, date(2024, 1, 10))])),
        # the air-ticket measure is significant: a reviewer confirms it (PIPL Art. 24)
        (datetime(2024, 2, 12, 9), confirm_reviews),
        (datetime(2024, 3, 1, 9), Batch(events=[event("V1", "R1", "rectified",
                                                       date(2024, 2, 28))])),
        (datetime(2024, 4, 1, 9), Batch(records=[record("R2", "E1", REFUSES, date(2024, 3, 5))])),
        (datetime(2024, 6, 1, 9), Batch(events=[event("X2", "R2", "revoked", date(2024, 6, 1))])),
    ]
    probes = [date(2024, 2, 15), date(2024, 2, 29), date(2024, 3, 10), date(2024, 4, 10),
              date(2024, 6, 5)]
    seen = {}
    pending = list(history)
    for day in probes:  # at the end of each probe day, decide with what was known
        while pending and pending[0][0].date() <= day:
            when, batch = pending.pop(0)
            clock.set(when)
            ledger.write(batch) if isinstance(batch, Batch) else batch(ledger)
        st = standing(ledger, policy, ledger.resolve("P1", policy), day)
        seen[day] = decide(st, "transport.air.ticket")
    for when, batch in pending:
        clock.set(when)
        ledger.write(batch) if isinstance(batch, Batch) else batch(ledger)
    # replay with the full history: each past decision is reproduced exactly
    for day, d in seen.items():
        st = standing(ledger, policy, ledger.resolve("P1", policy), day)
        assert decide(st, "transport.air.ticket") == d
    assert {day: d.effect.value for day, d in seen.items()} == {
        date(2024, 2, 15): "deny",   # listed from 10 Feb (one month of grace)
        date(2024, 2, 29): "deny",   # performance on 28 Feb not yet known (recorded 1 March)
        date(2024, 3, 10): "allow",  # performed Wed 28 Feb → off on Mon 4 March
        # R2 (recorded 1 April) listed from 5 April: a new entry no reviewer has confirmed
        date(2024, 4, 10): "refer_to_reviewer",
        date(2024, 6, 5): "allow",   # R2 revoked 1 June
    }
    assert ledger.verify().ok


def test_columnar_payloads_are_the_canonical_payloads() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from xinyong.ledger.payloads import columns_of, payload_of, payloads

    text = st.text(min_size=0, max_size=12)
    row = st.fixed_dictionaries({
        "id": text, "subject": text, "category": text, "agency": text, "document_no": text,
        "legal_basis": text, "act_date": st.dates(), "effective": st.dates(),
        "recorded_at": st.datetimes(),
        "amounts": st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), text,
                                   max_size=3),
        "ingest": st.one_of(st.none(), text)})

    @settings(max_examples=200, deadline=None)
    @given(st.lists(row, min_size=1, max_size=5))
    def same(rows):  # type: ignore[no-untyped-def]
        got = payloads("record", columns_of("record", rows), len(rows))
        assert got == [payload_of("record", r).encode() for r in rows]
        for p in got:  # and it is the canonical JSON: sorted keys, no spaces
            assert p.decode() == json.dumps(json.loads(p), sort_keys=True, separators=(",", ":"),
                                            ensure_ascii=False)

    same()


def test_hashing_in_a_forked_child_gives_a_ledger_that_verifies(
        ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large writes hash in a forked child while the parent inserts; here every write does.
    verify recomputes every payload, leaf and chain hash inline, so it checks the child's work;
    the parent's connection is still usable afterwards (the child never closed it)."""
    from xinyong.ledger import hasher

    monkeypatch.setattr(hasher, "FORK_AT", 1)
    seed(ledger)
    result = ledger.write(Batch(records=[record(f"F{i}", "E1", REFUSES, date(2024, 2, 1 + i))
                                         for i in range(20)]))
    assert (result.first_seq, result.last_seq) == (8, 27)
    ledger.checkpoint()
    report = ledger.verify()
    assert report.ok and report.entries == 7 + 20
    proof = ledger.prove("F7")
    assert merkle.verify_inclusion(proof["leaf_index"], proof["tree_size"],
                                   merkle.leaf_hash(proof["payload"].encode()),
                                   [bytes.fromhex(h) for h in proof["proof"]],
                                   bytes.fromhex(proof["root"]))


def test_a_failure_in_the_forked_child_is_raised_in_the_parent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from xinyong.ledger.errors import LedgerError
    from xinyong.ledger.hasher import _Forked

    def boom() -> None:
        raise ValueError("no")

    for threads in (1, 2):  # forked, then inline (as in a threaded server): the same
        monkeypatch.setattr(threading, "active_count", lambda n=threads: n)
        probe = _Forked(sum, [1])
        assert bool(probe.pid) == (threads == 1) and probe.result() == 1
        with pytest.raises(LedgerError, match="hashing failed: ValueError"):
            _Forked(boom).result()
        assert _Forked(sum, [1, 2, 3]).result() == 6
