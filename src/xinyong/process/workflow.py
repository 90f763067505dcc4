"""The due-process operations on the ledger: object, resolve, rectify, repair, notices, tick.

Each operation is one transaction together with its audit entry. Effects on credit go through
record events only (revoked, rectified, repaired), so the engine's as-of semantics carry them:
everything derived from a revoked record disappears from that day on, on every linked subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from xinyong.ledger.cases import Case, load, notice_ids, targets
from xinyong.ledger.cases import notices as notices  # re-exported: the CLI and demo read it here
from xinyong.ledger.store import Batch, Ledger
from xinyong.ledger.transaction import Transaction
from xinyong.model import EventKind, LinkRole, RecordEvent, Subject, grade_key, list_key, record_key
from xinyong.policy.model import Policy
from xinyong.process.cases import NEEDS_REASONS, TRANSITIONS, CaseError
from xinyong.standings import standing

OBJECTION_DAYS = {"credit-reporting": 20, "fcra": 30}
"""Days to answer an objection: 20 under the Credit Reporting Regulation (Order 631, 2013,
Art. 25); 30 under the US FCRA (§1681i), the alternative."""


# --- objections -------------------------------------------------------------------------


def file_objection(ledger: Ledger, policy: Policy, objector: Subject, target: str, reason: str,
                   *, days: int = OBJECTION_DAYS["credit-reporting"]) -> Case:
    """``objector`` objects to ``target``: ``record:ID``, ``list:LIST`` or ``grade:SCHEME``.
    A firm's legal representative may object to the firm's records (target ``record:ID``)."""
    if not reason.strip():
        raise CaseError("give a reason for the objection (--reason)")
    now = ledger.clock()
    today = now.date()
    kind, _, ref = target.partition(":")
    by = f"subject:{objector.id}"
    if kind == "record":
        owner = _record_owner(ledger, ref)
        if owner != objector.id:
            if not _represents(ledger, objector.id, owner, today):
                raise CaseError(f"record {ref} is about {owner}; only that subject or its "
                                "legal representative may object to it")
            by = f"legal_representative:{objector.id}"
        subject, key = owner, record_key(ref)
    elif kind == "list":
        st = standing(ledger, policy, objector, today)
        if not any(e.list == ref and e.subject == objector.id for e in st.entries):
            raise CaseError(f"{objector.id} has no entry on list {ref!r}; nothing to object to")
        subject, key = objector.id, list_key(objector.id, ref)
    elif kind == "grade":
        st = standing(ledger, policy, objector, today)
        if ref not in st.ratings:
            raise CaseError(f"{objector.id} has no grade under scheme {ref!r}")
        subject, key = objector.id, grade_key(objector.id, ref)
    else:
        raise CaseError(f"unknown target {target!r}: write record:ID, list:LIST or "
                        "grade:SCHEME")
    already = [c for c in load(ledger, subjects=[subject], kind="objection")
               if c.target == key and c.open]
    if already:
        raise CaseError(f"an objection to {key} is already open: {already[0].id}")
    with ledger.transaction(by, "objection.file", subject) as tx:
        case_id = tx.open_case("objection", subject, key, by, now, reason,
                               today + timedelta(days=days), "filed", {"days": days})
        tx.detail.update({"case": case_id, "target": key})
    return load(ledger, case_id=case_id)[0]


def _record_owner(ledger: Ledger, record_id: str) -> str:
    rec = ledger.record(record_id)
    if rec is None:
        raise CaseError(f"no record {record_id!r} in the ledger")
    return rec.subject


def _represents(ledger: Ledger, person: str, firm: str, on: date) -> bool:
    hood = ledger.neighbourhood(ledger.subjects([firm])[firm], depth=1)
    return any(lk.organisation == firm and lk.party == person
               and lk.role is LinkRole.LEGAL_REPRESENTATIVE and lk.holds_on(on)
               for lk in hood.links)


# --- resolving any case -----------------------------------------------------------------


@dataclass
class Resolution:
    case: Case
    revoked: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def resolve(ledger: Ledger, policy: Policy, case_id: str, outcome: str, reasons: str,
            by: str) -> Resolution:
    """Move a case on: objections to under_review, upheld, rejected or withdrawn; repair
    applications to granted or refused; reviews to confirmed or declined."""
    found = load(ledger, case_id=case_id)
    if not found:
        raise CaseError(f"no case {case_id!r} (`xinyong objections` lists them)")
    case = found[0]
    allowed = TRANSITIONS[case.kind].get(case.status, ())
    if outcome not in allowed:
        raise CaseError(f"{case.id} is {case.status}; a {case.kind} can go to "
                        f"{', '.join(allowed) or 'nothing more'} from there")
    if outcome in NEEDS_REASONS and not reasons.strip():
        raise CaseError(f"{outcome} needs written reasons (--reasons)")
    if outcome == "withdrawn" and by != case.filed_by:
        raise CaseError(f"only the objector ({case.filed_by}) may withdraw {case.id}")
    now = ledger.clock()
    today = now.date()
    result = Resolution(case)
    events: list[RecordEvent] = []
    notices: list[dict[str, Any]] = []
    if case.kind == "objection" and outcome == "upheld":
        records = _records_behind(ledger, policy, case, today)
        notices = _corrections(ledger, policy, case, records, now)
        events = [RecordEvent(f"{case.id}/revoked/{r}", r, EventKind.REVOKED, today, now,
                              f"objection {case.id} upheld: {reasons}") for r in records]
        result.revoked = records
    elif case.kind == "repair" and outcome == "granted":
        records = list(case.detail.get("records", []))
        events = [RecordEvent(f"{case.id}/repaired/{r}", r, EventKind.REPAIRED, today, now,
                              f"credit repair {case.id} granted: {reasons}") for r in records]
        result.repaired = records
    if case.kind == "objection" and outcome in ("upheld", "rejected"):
        notices.append(_notice(f"{case.id}/decision", "decision",
                               case.filed_by, case.subject, "", case.target, [], today, None,
                               [], {"case": case.id, "outcome": outcome, "reasons": reasons},
                               now))

    def also(tx: Transaction) -> None:
        tx.add_case_event(case.id, outcome, now, by, reasons)
        tx.add_notices(notices)

    ledger.write(Batch(events=events), now, also=also,
                 audit=(by, f"{case.kind}.{outcome}", case.subject,
                        {"case": case.id, "revoked": result.revoked,
                         "repaired": result.repaired, "notices": len(notices)}))
    result.notices = [n["id"] for n in notices]
    result.case = load(ledger, case_id=case.id)[0]
    return result


def _records_behind(ledger: Ledger, policy: Policy, case: Case, on: date) -> list[str]:
    """The records an upheld objection revokes: the record itself, or those behind the
    disputed entry or grade."""
    kind, _, rest = case.target.partition(":")
    if kind == "record":
        return [rest]
    subject_id, _, ref = rest.partition(":")
    subject = ledger.subjects([subject_id])[subject_id]
    st = standing(ledger, policy, subject, on)
    if kind == "list":
        return sorted({r for e in st.entries if e.list == ref and e.subject == subject_id
                       for r in e.records})
    rating = st.ratings[ref]
    return sorted(rating.records)


def _corrections(ledger: Ledger, policy: Policy, case: Case, records: list[str],
                 now: datetime) -> list[dict[str, Any]]:
    """A correction notice to every agency that applied a measure resting on the records, on
    the subject and on every linked subject the measure reached, on any day until today.

    Who a measure reaches changes only when an entry starts or ends, a link starts or ends,
    or the policy changes, so the standings on those days (within each entry's time in
    force) see every measure that was ever applied."""
    today = now.date()
    owner = ledger.subjects([case.subject])[case.subject]
    graph = ledger.neighbourhood(owner, max(1, policy.at(today).max_path))
    reached = [owner, *graph.related]
    wrong = set(records)
    turns = set(policy.breaks)
    for lk in graph.links:
        turns.add(lk.start)
        if lk.end is not None:
            turns.add(lk.end - timedelta(days=1))
    days = {today}
    for e in standing(ledger, policy, owner, today).entries:
        if not wrong & set(e.records) or e.start > today:
            continue
        last = today if e.end is None else min(today, e.end - timedelta(days=1))
        days |= {e.start, last} | {d for d in turns if e.start <= d <= last}
    out: dict[str, dict[str, Any]] = {}
    for subject in reached:
        for day in sorted(days):
            for am in standing(ledger, policy, subject, day).measures:
                if not wrong & set(am.entry.records):
                    continue
                nid = f"{case.id}/correction/{am.applied_by}/{subject.id}/{am.measure}"
                out.setdefault(nid, _notice(
                    nid, "correction", f"agency:{am.applied_by}", subject.id, am.entry.list,
                    am.entry.key, sorted(wrong & set(am.entry.records)), today, None,
                    list(am.legal_basis),
                    {"case": case.id, "measure": am.measure, "clause": am.clause,
                     "memorandum": am.memorandum, "applied_from": am.entry.start.isoformat(),
                     "instruction": f"lift {am.measure} for {subject.id} from {today}: the "
                     "record(s) it rested on were revoked after an upheld objection"}, now))
    return list(out.values())


def _notice(nid: str, kind: str, recipient: str, subject: str, lst: str, entry: str,
            records: list[str], served: date, grace_ends: date | None,
            legal_basis: list[str], body: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"id": nid, "kind": kind, "recipient": recipient, "subject": subject, "list": lst,
            "entry": entry, "records": records, "served": served, "grace_ends": grace_ends,
            "legal_basis": legal_basis, "body": body, "created_at": now}


# --- rectification and repair -----------------------------------------------------------


def rectify(ledger: Ledger, record_id: str, agency: str, on: date, note: str = "") -> str:
    """The agency that made the record says the obligation was performed on ``on`` (履行)."""
    now = ledger.clock()
    if on > now.date():
        raise CaseError(f"{on} is in the future; record a performance once it happened")
    rec = ledger.record(record_id)
    if rec is None:
        raise CaseError(f"no record {record_id!r} in the ledger")
    if rec.agency != agency:
        raise CaseError(f"record {record_id} was made by {rec.agency!r}; only that agency "
                        "may record its performance")
    event_id = f"{record_id}/rectified/{on.isoformat()}"
    ledger.write(Batch(events=[RecordEvent(event_id, record_id, EventKind.RECTIFIED, on, now,
                                           note or "obligation performed")]), now,
                 audit=(f"agency:{agency}", "record.rectify", rec.subject,
                        {"record": record_id, "on": on.isoformat()}))
    return event_id


def apply_for_repair(ledger: Ledger, policy: Policy, subject: Subject, target: str,
                     reason: str, commitment: str = "") -> Case:
    """Apply for credit repair of a displayed record (``record:ID``) or a list entry
    (``list:LIST``). Too early, the application is refused at once, with the date from which
    it is possible; the refusal is recorded like any decision. Where the repair rule in force
    asks for it, the application needs a credit commitment letter (``commitment``: its text or
    reference), and its deadline is the rule's working days to an answer."""
    now = ledger.clock()
    today = now.date()
    procedure = policy.repair_rule(today)
    if procedure is not None and procedure.commitment_required and not commitment.strip():
        raise CaseError(f"a repair application needs a credit commitment letter (信用承诺书) "
                        f"under {procedure.title} ({', '.join(procedure.legal_basis)}); give its "
                        "text or reference with --commitment")
    deadline = None
    if procedure is not None and procedure.answer_working_days is not None:
        deadline = policy.calendar(procedure.calendar).add_working_days(
            today, procedure.answer_working_days)
    st = standing(ledger, policy, subject, today)
    kind, _, ref = target.partition(":")
    if kind == "record":
        shown = [d for d in st.displayed if d.record == ref]
        if not shown:
            raise CaseError(f"record {ref} of {subject.id} is not on public display; there is "
                            "nothing to repair")
        earliest, records = shown[0].earliest_repair, [ref]
    elif kind == "list":
        entries = [e for e in st.active_entries if e.list == ref and e.subject == subject.id]
        if not entries:
            raise CaseError(f"{subject.id} has no active entry on list {ref!r}")
        entry = entries[0]
        if entry.earliest_application is None:
            raise CaseError(f"list {ref} has no repair by application; {'; '.join(entry.lift)}")
        earliest, records = entry.earliest_application, list(entry.records)
    else:
        raise CaseError(f"unknown target {target!r}: write record:ID or list:LIST")
    key = f"{kind}:{subject.id}:{ref}" if kind == "list" else target
    by = f"subject:{subject.id}"
    too_early = today < earliest
    with ledger.transaction(by, "repair.apply", subject.id) as tx:
        detail: dict[str, Any] = {"records": records, "possible_from": earliest.isoformat()}
        if procedure is not None:
            detail |= {"procedure": procedure.id, "channel": procedure.channel,
                       "decision_working_days": procedure.decision_working_days,
                       **({"commitment": commitment.strip()} if commitment.strip() else {})}
        case_id = tx.open_case("repair", subject.id, key, by, now, reason or "repair",
                               deadline, "applied", detail)
        if too_early:
            tx.add_case_event(case_id, "refused", now, "platform",
                              f"too early: credit repair is possible from {earliest}")
        tx.detail.update({"case": case_id, "target": key, "refused": too_early})
    return load(ledger, case_id=case_id)[0]


# --- notices and time -------------------------------------------------------------------


@dataclass
class TickReport:
    on: date
    subjects: int = 0
    listing_notices: int = 0
    removal_notices: int = 0
    reviews_opened: int = 0
    overdue_objections: int = 0


def tick(ledger: Ledger, policy: Policy, until: date | None = None,
         days: int = OBJECTION_DAYS["credit-reporting"]) -> TickReport:
    """Apply every time-driven change up to ``until`` (default today), idempotently: serve a
    notice for each list entry not yet noticed, one when an entry's display ends, open a
    human review for each significant measure awaiting one, and count overdue objections.
    Ends of grace, expiries and automatic removals themselves follow from the rules as of the
    date; tick makes them known."""
    now = ledger.clock()
    on = until or now.date()
    report = TickReport(on)
    served = notice_ids(ledger)
    reviewed = targets(ledger, "review")
    known = datetime.combine(on, time.max) if on < now.date() else now
    fresh: list[dict[str, Any]] = []
    reviews: list[tuple[str, str, list[str]]] = []
    for subject in ledger.subjects().values():
        st = standing(ledger, policy, subject, on, known)
        report.subjects += 1
        rules = policy.at(on).list_rules
        for e in st.entries:
            rule = rules.get(e.rule)
            # adverse entries are noticed before publication; red lists need no notice
            if e.subject != subject.id or e.listed_on > on or rule is None or (
                    rule.colour != "black" or not rule.notice_required):
                continue
            nid = f"listing/{e.key}"
            if nid not in served:
                served.add(nid)
                fresh.append(_notice(
                    nid, "listing", f"subject:{subject.id}", subject.id, e.list, e.key,
                    list(e.records), on, e.start if e.start > on else None,
                    list(e.legal_basis),
                    {"list": e.list, "start": e.start.isoformat(),
                     "planned_end": e.planned_end.isoformat() if e.planned_end else None,
                     "how_to_object": f"xinyong object {subject.id} --target list:{e.list} "
                     f"--reason …; it is answered within {days} days",
                     "lift": list(e.lift)}, now))
                report.listing_notices += 1
            if e.end is not None and e.end <= on and f"removal/{e.key}" not in served:
                served.add(f"removal/{e.key}")
                fresh.append(_notice(
                    f"removal/{e.key}", "removal", f"subject:{subject.id}", subject.id, e.list,
                    e.key, list(e.records), on, None, list(e.legal_basis),
                    {"ended": e.end.isoformat(), "why": e.end_reason or ""}, now))
                report.removal_notices += 1
        for am in st.measures:
            if am.pending_review and am.entry.key not in reviewed:
                reviewed.add(am.entry.key)
                reviews.append((subject.id, am.entry.key,
                                sorted({m.measure for m in st.measures
                                        if m.entry.key == am.entry.key})))
    for c in load(ledger, kind="objection"):
        report.overdue_objections += c.overdue(on)
    with ledger.transaction("platform", "tick", None,
                            {"until": on.isoformat(), "notices": len(fresh),
                             "reviews": len(reviews),
                             "overdue": report.overdue_objections}) as tx:
        tx.add_notices(fresh)
        for subject_id, key, measures in reviews:
            tx.open_case("review", subject_id, key, "platform", now,
                         "significant measure: a person must confirm it (PIPL Art. 24)", None,
                         "pending", {"measures": measures})
        report.reviews_opened = len(reviews)
    return report
