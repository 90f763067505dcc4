"""Due process on the ledger as a randomised state machine (Hypothesis, SQLite and PostgreSQL).

A small fixed cast — firms F1, F2 and persons P1, P2, P3 — goes through random sequences of
court records (refusal to perform, on firms and persons), administrative penalties by SAMR on
firms, legal-representative links, objections (by the subject or by a firm's legal
representative; to a record or to the subject's court-list entry) and their resolution,
rectifications, credit-repair applications and decisions, reviewers' confirmations and
``tick``, the clock moving forward by random days between steps.

After every step the documented invariants (docs/due-process.md) are checked on the clock's
date, for every subject of the cast:

1. nothing is public after its maximum period (standing and ``public_view``), and what is on
   display is exactly what the display rules give (3 months to 3 years, a granted repair ends
   display that day, a revoked record never shows again);
2. no measure outlives its list entry, and a measure reaching a linked subject needs the link;
3. a revoked record has no effect anywhere from its revocation on;
4. an upheld objection sent a correction notice to every agency that applied a measure resting
   on the revoked record when it was decided (and to no one else);
5. the ledger verifies.

Besides: cases move only along ``TRANSITIONS`` and have the status the model expects, open
objections mark what rests on them as disputed, confirmed entries are not pending review, each
objection decided has its decision notice, and ``tick`` is idempotent and serves what it must.

Every expected value comes from the documented rules, worked out in the model below; nothing is
taken from the code under test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from builders import Clock, firm, link, person, record
from xinyong.engine.explain import public_view
from xinyong.ledger.cases import load
from xinyong.ledger.store import Batch, Ledger
from xinyong.model import EntryStatus, Standing, Subject
from xinyong.policy.model import Policy
from xinyong.process.cases import TRANSITIONS, CaseError
from xinyong.process.workflow import (
    apply_for_repair,
    file_objection,
    notices,
    rectify,
    resolve,
    tick,
)
from xinyong.standings import standing

COMMITMENT = "信用承诺书 2026-001"  # required from 1 Apr 2026 (NDRC Order No. 36)
REFUSES = "judicial.debtor.refuses_to_perform"
PENALTY = "admin.penalty.general"
COURT = "spc.dishonest_debtors"
OBJECTION_DAYS = 20  # Credit Reporting Regulation (Order 631, 2013) Art. 25
START = datetime(2024, 1, 10, 9)

FIRMS = ("F1", "F2")
PERSONS = ("P1", "P2", "P3")
CAST: dict[str, Subject] = {
    "F1": firm("F1", "深圳某某科技有限公司"),
    "F2": firm("F2", "北京某某贸易有限公司"),
    "P1": person("P1", "李四"),
    "P2": person("P2", "王五"),
    "P3": person("P3", "赵六"),
}
INITIAL = {"objection": "filed", "repair": "applied", "review": "pending"}
OPEN = {"filed", "under_review", "applied", "pending"}

STEP_DAYS = st.one_of(st.integers(0, 3), st.integers(4, 40))
"""Days the clock moves before a step; ``wait`` takes the long strides."""


# --- fresh databases, one per example --------------------------------------------------------

PG_ADMIN = os.environ.get("XINYONG_TEST_PG_URL", "")


class Databases:
    """Fresh, empty ledger databases: a new SQLite file, or a new PostgreSQL database created
    and dropped as tests/conftest.py's ``ledger_url`` does."""

    def __init__(self, backend: str, folder: Path):
        self.backend, self.folder, self.made = backend, folder, 0
        self.admin: Any = None
        if backend == "postgresql":
            from sqlalchemy import create_engine

            self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")

    def new(self) -> str:
        self.made += 1
        if self.backend == "sqlite":
            return f"sqlite:///{self.folder}/machine-{self.made}.db"
        from sqlalchemy import text

        name = f"xy_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"

    def drop(self, url: str) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
            return
        from sqlalchemy import text

        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))

    def close(self) -> None:
        if self.admin is not None:
            self.admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """With CI=true a missing PostgreSQL is a failure, never a skip (as in conftest.py)."""
    if request.param == "postgresql" and not PG_ADMIN:
        if os.environ.get("CI") == "true":
            pytest.fail("XINYONG_TEST_PG_URL is not set: CI must run the ledger on PostgreSQL")
        pytest.skip("PostgreSQL not configured (set XINYONG_TEST_PG_URL)")
    dbs = Databases(request.param, tmp_path)
    yield dbs
    dbs.close()


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rec:
    id: str
    subject: str
    category: str
    agency: str
    effective: date


@dataclass(frozen=True)
class RepLink:
    firm: str
    person: str
    start: date
    end: date | None

    def holds_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass
class ModelCase:
    id: str
    kind: str
    subject: str
    target: str
    filed_by: str
    filed_on: date
    statuses: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.statuses[-1]


Triple = tuple[str, str, str]
"""(agency, subject, measure)."""


@dataclass(frozen=True)
class Upheld:
    """What an upheld objection revoked, from whom, and the (agency, subject, measure) that
    must each have had a correction notice (see :meth:`DueProcessMachine.must_correct`)."""

    owner: str
    records: frozenset[str]
    required: frozenset[Triple]


class DueProcessMachine(RuleBasedStateMachine):
    def __init__(self, policy: Policy, dbs: Databases):
        super().__init__()
        self.policy, self.dbs = policy, dbs
        self.clock = Clock(START)
        self.url = dbs.new()
        self.ledger = Ledger.open(self.url, clock=self.clock)
        self.records: dict[str, Rec] = {}
        self.links: list[RepLink] = []
        self.cases: dict[str, ModelCase] = {}
        self.revoked: dict[str, date] = {}
        self.repaired: dict[str, date] = {}
        self.corrections: dict[str, Upheld] = {}
        self.confirmed: dict[str, set[str]] = {}
        """Entry keys a reviewer confirmed → the records of the entries confirmed."""
        self._standings: dict[str, Standing] | None = None

    def teardown(self) -> None:
        self.ledger.dispose()
        self.dbs.drop(self.url)

    # -- helpers ------------------------------------------------------------------------------

    @property
    def today(self) -> date:
        return self.clock.today

    def step(self, days: int) -> None:
        self.clock.advance(days)
        self._standings = None

    def standings(self, day: date | None = None) -> dict[str, Standing]:
        """Every subject's standing on ``day`` (default today, cached for the step)."""
        if day is not None:
            return {s: standing(self.ledger, self.policy, CAST[s], day) for s in CAST}
        if self._standings is None:
            self._standings = {s: standing(self.ledger, self.policy, CAST[s], self.today)
                               for s in CAST}
        return self._standings

    def reps(self, firm_id: str, day: date) -> list[str]:
        return sorted({lk.person for lk in self.links if lk.firm == firm_id and lk.holds_on(day)})

    def open_cases(self, kind: str) -> list[str]:
        return sorted(c.id for c in self.cases.values() if c.kind == kind and c.status in OPEN)

    def open_targets(self) -> set[str]:
        return {c.target for c in self.cases.values()
                if c.kind == "objection" and c.status in OPEN}

    def court_records(self, subject: str) -> list[str]:
        return sorted(r.id for r in self.records.values()
                      if r.subject == subject and r.category == REFUSES
                      and r.id not in self.revoked)

    def publicity(self, rec: Rec, day: date) -> tuple[date, date] | None:
        """(earliest repair, end of display) of a record by its category's publicity period
        (looked up for the day), or None if it is not displayed for this kind of subject."""
        pub = self.policy.at(day).categories[rec.category].publicity
        shown = pub.persons if CAST[rec.subject].is_person else pub.organisations
        if pub.max is None or not shown:
            return None
        return (pub.min.after(rec.effective) if pub.min else rec.effective,
                pub.max.after(rec.effective))

    def expected_display(self, subject: str, day: date) -> set[str]:
        """Displayed from the effective date until the maximum period, or until a granted
        repair (always after the minimum: earlier applications are refused); never after a
        revocation."""
        out = set()
        for rec in self.records.values():
            bounds = self.publicity(rec, day) if rec.subject == subject else None
            if bounds is None or (rec.id in self.revoked and self.revoked[rec.id] <= day):
                continue
            until = bounds[1]
            if rec.id in self.repaired:
                until = min(until, self.repaired[rec.id])
            if rec.effective <= day < until:
                out.add(rec.id)
        return out

    def must_correct(self, owner: str, wrong: set[str]) -> frozenset[Triple]:
        """Who must get a correction notice when ``wrong`` is revoked today, worked out just
        before the decision: every agency that applied a measure (not awaiting review) resting
        on it, on any subject, on any day from the first day of an entry resting on it to
        today.

        Who a measure reaches changes only on the days an entry starts or ends, a link starts
        or ends, or a policy version begins, so the model looks at those days (from its own
        list of links) within each entry's time in force."""
        today = self.today
        turns = set(self.policy.breaks)
        for lk in self.links:
            turns.add(lk.start)
            if lk.end is not None:
                turns.add(lk.end - timedelta(days=1))
        days = {today}
        for e in self.standings(today)[owner].entries:
            if wrong & set(e.records) and e.start <= today:
                last = today if e.end is None else min(today, e.end - timedelta(days=1))
                days |= {e.start, last} | {d for d in turns if e.start <= d <= last}
        required: set[Triple] = set()
        for day in sorted(days):
            for sid, st_ in self.standings(day).items():
                required |= {(am.applied_by, sid, am.measure) for am in st_.measures
                             if wrong & set(am.entry.records) and not am.pending_review}
        return frozenset(required)

    def ever_represented(self, firm_id: str) -> set[str]:
        return {lk.person for lk in self.links if lk.firm == firm_id}

    def pick(self, data: st.DataObject, options: list[str]) -> str:
        return data.draw(st.sampled_from(options))

    # -- the cast -----------------------------------------------------------------------------

    @initialize(reps=st.tuples(*[st.sampled_from([None, *PERSONS])] * len(FIRMS)),
                debtors=st.lists(st.sampled_from(FIRMS) | st.sampled_from(sorted(CAST)),
                                 max_size=2),
                settled=st.booleans(), data=st.data())
    def cast(self, reps: tuple[str | None, str | None], debtors: list[str], settled: bool,
             data: st.DataObject) -> None:
        """The cast, each firm perhaps with a legal representative since 2015, perhaps court
        records; perhaps settled: a month on, past the grace period, ticked and reviewed."""
        since = date(2015, 1, 1)
        self.links += [RepLink(f, p, since, None) for f, p in zip(FIRMS, reps, strict=True) if p]
        self.ledger.write(Batch(subjects=list(CAST.values()), links=[
            link(lk.firm, lk.person, "legal_representative", since) for lk in self.links]))
        for who in debtors:
            self._record(who, REFUSES, "courts", self.today)
        if settled:
            self.step(33)
            tick(self.ledger, self.policy)
            self._reviewer_works(data)

    # -- facts ----------------------------------------------------------------------------------

    @rule(days=STEP_DAYS, subject=st.sampled_from(sorted(CAST)), back=st.integers(0, 30))
    def court_record(self, days: int, subject: str, back: int) -> None:
        """A court records a refusal to perform (on a firm or a person)."""
        self.step(days)
        self._record(subject, REFUSES, "courts", self.today - timedelta(days=back))

    @rule(days=STEP_DAYS, subject=st.sampled_from(FIRMS), back=st.integers(0, 30))
    def penalty(self, days: int, subject: str, back: int) -> None:
        """SAMR records an administrative penalty on a firm (displayed 3 months to 3 years)."""
        self.step(days)
        self._record(subject, PENALTY, "samr", self.today - timedelta(days=back))

    def _record(self, subject: str, category: str, agency: str, effective: date) -> None:
        rid = f"R{len(self.records) + 1}"
        self.ledger.write(Batch(records=[record(rid, subject, category, effective,
                                                agency=agency)]))
        self.records[rid] = Rec(rid, subject, category, agency, effective)

    @rule(days=STEP_DAYS, firm_id=st.sampled_from(FIRMS), who=st.sampled_from(PERSONS),
          back=st.integers(0, 30), lasts=st.none() | st.integers(1, 400))
    def legal_representative(self, days: int, firm_id: str, who: str, back: int,
                             lasts: int | None) -> None:
        """A person becomes a firm's legal representative (perhaps for a limited time)."""
        self.step(days)
        start = self.today - timedelta(days=back)
        if any((lk.firm, lk.person, lk.start) == (firm_id, who, start) for lk in self.links):
            return  # the same link id: a recorded fact never changes
        end = start + timedelta(days=lasts) if lasts is not None else None
        self.ledger.write(Batch(links=[link(firm_id, who, "legal_representative", start, end)]))
        self.links.append(RepLink(firm_id, who, start, end))

    # -- objections ---------------------------------------------------------------------------

    @precondition(lambda self: self.records)
    @rule(days=STEP_DAYS, data=st.data())
    def object_to_record(self, days: int, data: st.DataObject) -> None:
        """The subject, a firm's legal representative or (refused) someone else objects to a
        record."""
        self.step(days)
        self._object(data)

    def _object(self, data: st.DataObject) -> ModelCase | None:
        # firms' court records, whose measures reach legal representatives, more often
        firms = sorted(r.id for r in self.records.values()
                       if r.subject in FIRMS and r.category == REFUSES)
        every = st.sampled_from(sorted(self.records))
        rec = self.records[data.draw(st.one_of(every, st.sampled_from(firms)) if firms
                                     else every)]
        reps = self.reps(rec.subject, self.today) if rec.subject in FIRMS else []
        entitled = st.sampled_from([rec.subject, *reps])
        who = data.draw(st.one_of(entitled, entitled, entitled, st.sampled_from(sorted(CAST))))
        target = f"record:{rec.id}"
        if who not in (rec.subject, *reps) or target in self.open_targets():
            with pytest.raises(CaseError):
                file_objection(self.ledger, self.policy, CAST[who], target, "not ours")
            return None
        case = file_objection(self.ledger, self.policy, CAST[who], target, "not ours")
        by = f"subject:{who}" if who == rec.subject else f"legal_representative:{who}"
        assert (case.kind, case.status, case.subject, case.target, case.filed_by) == (
            "objection", "filed", rec.subject, target, by)
        assert case.deadline == self.today + timedelta(days=OBJECTION_DAYS)
        return self._filed(case.id, "objection", rec.subject, target, by)

    @rule(days=STEP_DAYS, who=st.sampled_from(sorted(CAST)))
    def object_to_listing(self, days: int, who: str) -> None:
        """A subject objects to its own entry on the court list (refused without one)."""
        self.step(days)
        key = f"list:{who}:{COURT}"
        if not self.court_records(who) or key in self.open_targets():
            with pytest.raises(CaseError):
                file_objection(self.ledger, self.policy, CAST[who], f"list:{COURT}", "paid")
            return
        case = file_objection(self.ledger, self.policy, CAST[who], f"list:{COURT}", "paid")
        assert (case.status, case.subject, case.target, case.filed_by) == (
            "filed", who, key, f"subject:{who}")
        self._filed(case.id, "objection", who, key, f"subject:{who}")

    def _filed(self, case_id: str, kind: str, subject: str, target: str, by: str,
               status: str | None = None) -> ModelCase:
        assert case_id not in self.cases
        self.cases[case_id] = ModelCase(case_id, kind, subject, target, by, self.today,
                                        [INITIAL[kind]] + ([status] if status else []))
        return self.cases[case_id]

    @precondition(lambda self: any(c.kind == "objection" for c in self.cases.values()))
    @rule(days=STEP_DAYS, data=st.data(),
          outcome=st.sampled_from(["under_review", "upheld", "rejected", "withdrawn"]))
    def resolve_objection(self, days: int, data: st.DataObject, outcome: str) -> None:
        """Any move on any objection (mostly an open one), allowed or not; only the objector
        may withdraw."""
        self.step(days)
        every = sorted(c.id for c in self.cases.values() if c.kind == "objection")
        case = self.cases[self.pick(data, self.open_cases("objection") or every)]
        by = "reviewer:李明"
        if outcome == "withdrawn":
            by = data.draw(st.sampled_from([case.filed_by, case.filed_by, "subject:P3"]))
        self._resolve(case, outcome, by)

    @precondition(lambda self: self.records)
    @rule(days=STEP_DAYS, data=st.data(), review_first=st.booleans())
    def uphold_objection(self, days: int, data: st.DataObject, review_first: bool) -> None:
        """An objection, open or filed now, is upheld (perhaps after being under review)."""
        self.step(days)
        open_ = self.open_cases("objection")
        case = (self.cases[self.pick(data, open_)] if open_ and data.draw(st.booleans())
                else self._object(data))
        if case is None:
            return
        if review_first:
            self._resolve(case, "under_review", "reviewer:李明")
        self._resolve(case, "upheld", "reviewer:李明")

    def _resolve(self, case: ModelCase, outcome: str, by: str) -> None:
        allowed = (outcome in TRANSITIONS["objection"].get(case.status, ())
                   and (outcome != "withdrawn" or by == case.filed_by))
        if not allowed:
            with pytest.raises(CaseError):
                resolve(self.ledger, self.policy, case.id, outcome, "decided", by)
            return
        expected: list[str] = []
        if outcome == "upheld":
            # what it revokes, and what was applied resting on it, just before the decision
            kind, _, ref = case.target.partition(":")
            expected = [ref] if kind == "record" else self.court_records(case.subject)
            # corrections for a record revoked before were due then, from that decision
            fresh = set(expected) - set(self.revoked)
            self.corrections[case.id] = Upheld(
                case.subject, frozenset(expected),
                self.must_correct(case.subject, fresh) if fresh else frozenset())
        res = resolve(self.ledger, self.policy, case.id, outcome, "decided", by)
        assert res.case.status == outcome
        assert sorted(res.revoked) == sorted(expected)
        case.statuses.append(outcome)
        for r in expected:
            self.revoked.setdefault(r, self.today)
        self._standings = None

    # -- rectification and repair -------------------------------------------------------------

    @precondition(lambda self: self.records)
    @rule(days=STEP_DAYS, data=st.data(), back=st.integers(0, 20),
          agency=st.sampled_from(["own", "own", "own", "sat"]))
    def rectify_record(self, days: int, data: st.DataObject, back: int, agency: str) -> None:
        """The record's agency (or, refused, another one) records performance."""
        self.step(days)
        rec = self.records[self.pick(data, sorted(self.records))]
        on = max(rec.effective, self.today - timedelta(days=back))
        if agency != "own":
            with pytest.raises(CaseError):
                rectify(self.ledger, rec.id, agency, on)
            return
        rectify(self.ledger, rec.id, rec.agency, on)

    @precondition(lambda self: any(r.category == PENALTY for r in self.records.values()))
    @rule(days=STEP_DAYS, data=st.data())
    def apply_for_repair(self, days: int, data: st.DataObject) -> None:
        """A firm applies for repair of a penalty: refused if not displayed, refused at once
        before the minimum period, otherwise awaiting a reviewer."""
        self.step(days)
        rid = self.pick(data, sorted(r.id for r in self.records.values()
                                     if r.category == PENALTY))
        rec = self.records[rid]
        subject = CAST[rec.subject]
        if rid not in self.expected_display(rec.subject, self.today):
            with pytest.raises(CaseError):
                apply_for_repair(self.ledger, self.policy, subject, f"record:{rid}", "paid",
                                 COMMITMENT)
            return
        bounds = self.publicity(rec, self.today)
        assert bounds is not None
        earliest = bounds[0]
        case = apply_for_repair(self.ledger, self.policy, subject, f"record:{rid}", "paid",
                                COMMITMENT)
        too_early = self.today < earliest
        assert case.status == ("refused" if too_early else "applied")
        assert case.detail["possible_from"] == earliest.isoformat()
        assert case.detail["records"] == [rid]
        self._filed(case.id, "repair", rec.subject, f"record:{rid}", f"subject:{rec.subject}",
                    "refused" if too_early else None)

    @precondition(lambda self: self.open_cases("repair"))
    @rule(days=STEP_DAYS, data=st.data(), outcome=st.sampled_from(["granted", "refused"]))
    def decide_repair(self, days: int, data: st.DataObject, outcome: str) -> None:
        self.step(days)
        case = self.cases[self.pick(data, self.open_cases("repair"))]
        res = resolve(self.ledger, self.policy, case.id, outcome, "checked", "reviewer:王芳")
        rid = case.target.partition(":")[2]
        assert res.case.status == outcome
        assert res.repaired == ([rid] if outcome == "granted" else [])
        case.statuses.append(outcome)
        if outcome == "granted":
            self.repaired.setdefault(rid, self.today)

    # -- human review and time ----------------------------------------------------------------

    @rule(days=STEP_DAYS, data=st.data())
    def review(self, days: int, data: st.DataObject) -> None:
        """tick opens the reviews due; a reviewer confirms (mostly) or declines each."""
        self.step(days)
        tick(self.ledger, self.policy)
        self._reviewer_works(data)

    def _reviewer_works(self, data: st.DataObject) -> None:
        for c in load(self.ledger, kind="review"):
            if c.id not in self.cases:
                self._filed(c.id, "review", c.subject, c.target, "platform")
        before = self.standings(self.today)  # what the reviewer looks at
        for cid in self.open_cases("review"):
            case = self.cases[cid]
            outcome = data.draw(st.sampled_from(["confirmed", "confirmed", "declined"]))
            resolve(self.ledger, self.policy, cid, outcome, "the court's decision was checked",
                    "reviewer:王芳")
            case.statuses.append(outcome)
            if outcome == "confirmed":  # the entries under review, with their records
                self.confirmed.setdefault(case.target, set()).update(
                    r for st_ in before.values() for e in st_.entries
                    if e.key == case.target for r in e.records)
        self._standings = None

    @rule(days=STEP_DAYS, data=st.data(), then_review=st.booleans())
    def tick_twice(self, days: int, data: st.DataObject, then_review: bool) -> None:
        """tick serves what is due; run again at once, it adds nothing. Then perhaps a
        reviewer works through the open reviews."""
        self.step(days)
        first = tick(self.ledger, self.policy)
        served = notices(self.ledger)
        cases = load(self.ledger)
        again = tick(self.ledger, self.policy)
        assert (again.listing_notices, again.removal_notices, again.reviews_opened) == (0, 0, 0)
        assert notices(self.ledger) == served
        assert [(c.id, c.status) for c in load(self.ledger)] == [(c.id, c.status) for c in cases]
        # overdue: open objections whose 20 days have run out
        overdue = sum(1 for c in self.cases.values() if c.kind == "objection"
                      and c.status in OPEN
                      and self.today > c.filed_on + timedelta(days=OBJECTION_DAYS))
        assert first.overdue_objections == again.overdue_objections == overdue
        for c in cases:
            if c.kind == "review" and c.id not in self.cases:
                self._filed(c.id, "review", c.subject, c.target, "platform")
        # what tick must have served by now
        ids = {n["id"]: n for n in served}
        reviewed = {c.target for c in cases if c.kind == "review"}
        rules = self.policy.at(self.today).list_rules
        for sid, st_ in self.standings().items():
            for e in st_.entries:
                rule_ = rules.get(e.rule)
                if (e.subject != sid or e.listed_on > self.today or rule_ is None
                        or rule_.colour != "black" or not rule_.notice_required):
                    continue
                assert f"listing/{e.key}" in ids, f"{e} was never noticed"
                ended = e.end is not None and e.end <= self.today
                assert not ended or f"removal/{e.key}" in ids, f"{e} ended, no removal notice"
                for kind in ("listing", "removal") if ended else ("listing",):
                    assert set(e.records) <= set(ids[f"{kind}/{e.key}"]["records"]), (
                        f"{e}: its {kind} notice names other records")
            for am in st_.measures:
                if am.pending_review:
                    assert am.entry.key in reviewed, f"{am.measure} of {sid}: no review case"
        if then_review:
            self._reviewer_works(data)

    @rule(days=st.integers(30, 1100))
    def wait(self, days: int) -> None:
        """Time passes: grace periods end, displays expire."""
        self.step(days)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def nothing_is_public_after_its_maximum_period(self) -> None:
        day = self.today
        for sid, st_ in self.standings().items():
            for d in st_.displayed:
                rec = self.records[d.record]
                assert rec.subject == sid
                pub = self.policy.at(day).categories[rec.category].publicity
                assert pub.max is not None, f"{d.record} has no display period yet is shown"
                assert day < pub.max.after(rec.effective), f"{d.record} shown after its maximum"
                assert d.until <= pub.max.after(rec.effective)
            for shown in public_view(self.policy, st_)["displayed"]:
                rec = self.records[shown["id"]]
                pub = self.policy.at(day).categories[rec.category].publicity
                assert pub.max is not None and day < pub.max.after(rec.effective), shown
            # and exactly what the display rules give
            assert {d.record for d in st_.displayed} == self.expected_display(sid, day)

    @invariant()
    def no_measure_outlives_its_entry(self) -> None:
        day = self.today
        every = self.standings()
        for sid, st_ in every.items():
            for am in st_.measures:
                e = am.entry
                assert e.status is EntryStatus.ACTIVE and e.active_on(day), (sid, am)
                listed = am.listed_subject or e.subject
                assert listed == e.subject
                assert any((x.list, x.rule, x.subject, x.start, x.end, x.records)
                           == (e.list, e.rule, e.subject, e.start, e.end, e.records)
                           for x in every[listed].active_entries), (sid, am)
                if listed != sid:  # it reached this subject by a link in force today
                    assert am.via == ("legal_representative",)
                    assert sid in self.reps(listed, day), (sid, am)

    @invariant()
    def a_revoked_record_has_no_effect(self) -> None:
        day = self.today
        gone = {r for r, on in self.revoked.items() if on <= day}
        if not gone:
            return
        for sid, st_ in self.standings().items():
            assert not [e for e in st_.entries if gone & set(e.records)], sid
            assert not [m for m in st_.measures if gone & set(m.entry.records)], sid
            for rating in st_.ratings.values():
                for c in rating.contributions:
                    assert not gone & set(c.records), (sid, rating.scheme, c)
                for a in rating.adjustments:
                    assert not gone & set(a.records), (sid, rating.scheme, a)
            assert not [d for d in st_.displayed if d.record in gone], sid
            assert not [x for x in public_view(self.policy, st_)["displayed"]
                        if x["id"] in gone], sid

    @invariant()
    def upheld_objections_sent_their_corrections(self) -> None:
        """Every agency that applied a measure resting on a revoked record gets a correction
        notice; and a notice only ever names a revoked record, the record's subject or a person
        who represented it, and a measure an agency applies under a memorandum clause."""
        clauses = {(b.clause.applied_by, b.measure.id)
                   for day in (START.date(), self.today)
                   for bound in self.policy.at(day).bindings_by_list.values() for b in bound}
        sent: dict[str, set[Triple]] = {}
        for n in notices(self.ledger):
            if n["kind"] != "correction":
                continue
            cid = n["body"]["case"]
            assert cid in self.corrections, f"a correction without an upheld objection: {n}"
            upheld = self.corrections[cid]
            agency = n["recipient"].removeprefix("agency:")
            assert n["recipient"] == f"agency:{agency}", n
            assert (agency, n["body"]["measure"]) in clauses, n
            assert n["records"] and set(n["records"]) <= upheld.records, n
            assert n["subject"] in {upheld.owner, *self.ever_represented(upheld.owner)}, n
            sent.setdefault(cid, set()).add((agency, n["subject"], n["body"]["measure"]))
        for cid, upheld in self.corrections.items():
            missing = upheld.required - sent.get(cid, set())
            assert not missing, f"{cid}: no correction notice for {sorted(missing)}"

    @invariant()
    def decided_objections_told_the_objector(self) -> None:
        told = {(n["body"]["case"], n["recipient"], n["body"]["outcome"])
                for n in notices(self.ledger) if n["kind"] == "decision"}
        assert told == {(c.id, c.filed_by, c.status) for c in self.cases.values()
                        if c.kind == "objection" and c.status in ("upheld", "rejected")}

    @invariant()
    def the_ledger_verifies(self) -> None:
        report = self.ledger.verify()
        assert report.ok, report.problem

    @invariant()
    def cases_move_only_along_transitions(self) -> None:
        stored = {c.id: c for c in load(self.ledger)}
        assert set(stored) == set(self.cases)
        for cid, case in stored.items():
            steps = [e.status for e in case.events]
            assert steps[0] == INITIAL[case.kind], (cid, steps)
            for a, b in pairwise(steps):
                assert b in TRANSITIONS[case.kind].get(a, ()), (cid, steps)
            assert steps == self.cases[cid].statuses, (cid, steps)

    @invariant()
    def open_objections_mark_what_rests_on_them(self) -> None:
        targets = self.open_targets()
        for sid, st_ in self.standings().items():
            assert st_.disputed <= targets, (sid, st_.disputed - targets)
            for t in targets:
                kind, _, ref = t.partition(":")
                if kind == "record" and self.records[ref].subject == sid:
                    assert t in st_.disputed, (sid, t)
                if kind == "list" and ref.partition(":")[0] == sid:
                    assert t in st_.disputed, (sid, t)
            for am in st_.measures:
                for r in am.entry.records:
                    if f"record:{r}" in targets:
                        assert f"record:{r}" in st_.disputed, (sid, am.measure, r)

    @invariant()
    def significant_measures_wait_for_a_person(self) -> None:
        """A confirmed entry's measures are not pending review; a significant measure that is
        not pending rests on an entry, with its records, that a reviewer confirmed."""
        view = self.policy.at(self.today)
        for sid, st_ in self.standings().items():
            for am in st_.measures:
                key = am.entry.key
                if am.pending_review:
                    assert key not in self.confirmed, (sid, am)
                elif view.measures[am.measure].significant and am.kind != "reward":
                    assert set(am.entry.records) <= self.confirmed.get(key, set()), (
                        f"{am.measure} applied to {sid} without a person's confirmation of "
                        f"entry {key} on {am.entry.records}")


MACHINE = {
    # examples × steps: about 15 s on SQLite and 20 s on PostgreSQL (a new database each)
    "sqlite": settings(max_examples=20, stateful_step_count=25, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow]),
    "postgresql": settings(max_examples=12, stateful_step_count=25, deadline=None,
                           suppress_health_check=[HealthCheck.too_slow]),
}


def test_due_process_state_machine(policy: Policy, databases: Databases) -> None:
    run_state_machine_as_test(lambda: DueProcessMachine(policy, databases),
                              settings=MACHINE[databases.backend])


# --- what the machine found, worked by hand ----------------------------------------------------


@pytest.fixture
def at_clock(ledger_url: str) -> Iterator[tuple[Ledger, Clock]]:
    clock = Clock(START)
    led = Ledger.open(ledger_url, clock=clock)
    yield led, clock
    led.dispose()


def test_entries_sharing_a_start_each_get_a_listing_notice(
        policy: Policy, at_clock: tuple[Ledger, Clock]) -> None:
    """Two judgments against F1, both effective 10 Jan 2024: two entries on the court list,
    both published from 10 Feb. docs/due-process.md: "a listing notice for every black-list
    entry whose rule requires one" — so both R1 and R2 must be named in a listing notice."""
    ledger, _ = at_clock
    ledger.write(Batch(subjects=[CAST["F1"]], records=[
        record("R1", "F1", REFUSES, date(2024, 1, 10)),
        record("R2", "F1", REFUSES, date(2024, 1, 10))]))
    tick(ledger, policy)
    entries = [e for e in standing(ledger, policy, CAST["F1"], date(2024, 1, 10)).entries
               if e.list == COURT]
    assert sorted(e.records for e in entries) == [("R1",), ("R2",)]
    noticed = {r for n in notices(ledger) if n["kind"] == "listing" for r in n["records"]}
    assert noticed == {"R1", "R2"}


def test_a_confirmation_is_of_one_entry_not_of_a_later_one_with_the_same_start(
        policy: Policy, at_clock: tuple[Ledger, Clock]) -> None:
    """A reviewer confirms F1's entry for R1 (from 10 Feb 2024). On 13 Feb a second judgment R3,
    also effective 10 Jan, is recorded: a new entry from 10 Feb that no person has looked at.
    docs/due-process.md: significant measures "are never applied by the automated path
    alone" — its air-ticket ban must be pending review (and tick must open a review)."""
    ledger, clock = at_clock
    ledger.write(Batch(subjects=[CAST["F1"]],
                       records=[record("R1", "F1", REFUSES, date(2024, 1, 10))]))
    clock.now = datetime(2024, 2, 12, 9)
    tick(ledger, policy)
    [review] = load(ledger, kind="review")
    resolve(ledger, policy, review.id, "confirmed", "R1 checked", "reviewer:王芳")
    clock.now = datetime(2024, 2, 13, 9)
    ledger.write(Batch(records=[record("R3", "F1", REFUSES, date(2024, 1, 10))]))
    st_ = standing(ledger, policy, CAST["F1"], date(2024, 2, 13))
    [ban] = [m for m in st_.measures
             if m.measure == "transport.air.ticket" and m.entry.records == ("R3",)]
    assert ban.pending_review
    assert tick(ledger, policy).reviews_opened == 1


def test_a_measure_applied_the_day_before_through_a_later_link_is_corrected(
        policy: Policy, at_clock: tuple[Ledger, Clock]) -> None:
    """R1 (10 Jan 2024) lists F1 from 10 Feb. P1 becomes F1's legal representative on
    1 March; a reviewer confirms; CAAC applies the air-ticket ban to P1. F1 performs on
    Wednesday 6 March: the entry ends within 3 working days, on Monday 11 March. P1's
    objection is upheld on 11 March. On 10 March CAAC applied the ban to P1 resting on R1, so
    CAAC must get a correction notice for P1 ("every agency that applied a measure resting
    on the record — on the subject and on every linked subject the measure reached")."""
    ledger, clock = at_clock
    f1, p1 = CAST["F1"], CAST["P1"]
    ledger.write(Batch(subjects=[f1, p1],
                       records=[record("R1", "F1", REFUSES, date(2024, 1, 10))]))
    clock.now = datetime(2024, 3, 1, 9)
    ledger.write(Batch(links=[link("F1", "P1", "legal_representative", date(2024, 3, 1))]))
    tick(ledger, policy)
    for case in load(ledger, kind="review"):
        resolve(ledger, policy, case.id, "confirmed", "checked", "reviewer:王芳")
    clock.now = datetime(2024, 3, 6, 9)
    rectify(ledger, "R1", "courts", date(2024, 3, 6))
    objection = file_objection(ledger, policy, p1, "record:R1", "the judgment names another firm")
    clock.now = datetime(2024, 3, 11, 9)
    on_the_10th = standing(ledger, policy, p1, date(2024, 3, 10))
    assert [m for m in on_the_10th.measures if m.measure == "transport.air.ticket"
            and not m.pending_review]
    assert not [m for m in standing(ledger, policy, p1, date(2024, 3, 11)).measures
                if m.kind != "reward"]
    resolve(ledger, policy, objection.id, "upheld", "the court confirmed the error",
            "reviewer:李明")
    assert ("agency:caac", "P1", "transport.air.ticket") in {
        (n["recipient"], n["subject"], n["body"]["measure"]) for n in notices(ledger)
        if n["kind"] == "correction"}
