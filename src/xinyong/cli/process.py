"""Due-process commands: object, objections, resolve, rectify, repair, notices, tick
(`xinyong process …`). Thin: parse, call ``xinyong.process``, print."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from xinyong.cli.common import (
    JsonOpt,
    LedgerOpt,
    PoliciesOpt,
    _date,
    _ledger,
    _policy,
    _print_json,
    fail,
    guarded,
    out,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Due process: objections, their resolution, rectification, credit "
                  "repair, notices, and the time-driven tick.")

T = TypeVar("T")
TargetOpt = Annotated[str, typer.Option(
    "--target", help="What: record:ID, list:LIST or grade:SCHEME")]
ByOpt = Annotated[str, typer.Option("--by", help="Who acts (default: the login name)")]


def _run(fn: Callable[[], T]) -> T:
    """Due-process refusals are clear messages with exit code 2, never a stack trace."""
    from xinyong.ledger.store import LedgerError

    try:
        return guarded(fn)
    except LedgerError as e:
        fail(str(e))


def _case_line(c: Any, on: Any) -> str:
    late = "  OVERDUE" if c.overdue(on) else ""
    due = f", answer due {c.deadline}" if c.deadline else ""
    return (f"{c.id} [{c.kind}] {c.status}: {c.target} by {c.filed_by} on "
            f"{c.filed_at.date()}{due}{late} — {c.reason}")


@app.command("object", epilog="Exit codes: 0 objection filed; 2 bad input (unknown subject or "
             "record, no such entry or grade, an objection already open, no reason).")
def object_(
    subject: Annotated[str, typer.Argument(help="Who objects: a subject id or identifier (a "
                                           "firm's legal representative may object to the "
                                           "firm's records)")],
    target: TargetOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why the item is wrong")],
    rules: Annotated[str, typer.Option(
        "--rules", help="Answer deadline: credit-reporting (20 days, Order 631 Art. 25) or "
        "fcra (30 days)")] = "credit-reporting",
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Object to a record, a list entry or a grade. While the objection is open the item is
    marked disputed in every view and in the reasons of every decision resting on it."""
    from xinyong.process.workflow import OBJECTION_DAYS, file_objection

    if rules not in OBJECTION_DAYS:
        fail(f"unknown --rules {rules!r}; use {' or '.join(OBJECTION_DAYS)}")
    policy = _policy(policies)
    ledger = _ledger(database, must_exist=True)
    who = _run(lambda: ledger.resolve(subject, policy))
    case = _run(lambda: file_objection(ledger, policy, who, target, reason,
                                       days=OBJECTION_DAYS[rules]))
    out.print(f"{case.id} filed: {case.target} is disputed from now on; the answer is due by "
              f"{case.deadline}", highlight=False)


@app.command(epilog="Exit codes: 0 listed; 2 bad input.")
def objections(
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject")] = None,
    only_open: Annotated[bool, typer.Option("--open", help="Only open objections")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past their answer "
                                          "deadline")] = False,
    kind: Annotated[str, typer.Option("--kind", help="objection, repair or review")] =
    "objection",
    on: Annotated[str | None, typer.Option("--on", help="Judge deadlines on this date "
                                           "(default: today)")] = None,
    as_json: JsonOpt = False,
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """List objections (or repair applications, or human reviews) with their state and
    deadline; overdue ones are marked and counted."""
    from xinyong.process.cases import load

    day = _date(on, "--on")
    ledger = _ledger(database, must_exist=True)
    subjects = None
    if subject is not None:
        subjects = [_run(lambda: ledger.resolve(subject, _policy(policies))).id]
    cases = [c for c in load(ledger, subjects=subjects, kind=kind)
             if (c.open or not only_open) and (c.overdue(day) or not overdue)]
    if as_json:
        _print_json([c.as_dict() | {"overdue": c.overdue(day)} for c in cases])
        return
    for c in cases:
        out.print(_case_line(c, day), highlight=False, markup=False)
    late = sum(c.overdue(day) for c in cases)
    out.print(f"{len(cases)} {kind}(s), {sum(c.open for c in cases)} open, {late} overdue on "
              f"{day}", highlight=False)


@app.command(epilog="Exit codes: 0 done; 2 bad input (no such case, a move its state does not "
             "allow, reasons missing).")
def resolve(
    case: Annotated[str, typer.Argument(help="Case id, e.g. OBJ-000001")],
    outcome: Annotated[str, typer.Argument(
        help="objection: under_review, upheld, rejected, withdrawn; repair: granted, "
        "refused; review: confirmed, declined")],
    reasons: Annotated[str, typer.Option("--reasons", help="Written reasons (required to "
                                         "uphold, reject, refuse or decline)")] = "",
    by: ByOpt = "",
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Decide a case. An upheld objection revokes the record(s): everything derived from them
    disappears from today on, on every linked subject, and every agency that applied a measure
    resting on them gets a correction notice. A granted repair ends public display."""
    from xinyong.process.workflow import resolve as run

    policy = _policy(policies)
    ledger = _ledger(database, must_exist=True)
    actor = by or f"reviewer:{getpass.getuser()}"
    res = _run(lambda: run(ledger, policy, case, outcome, reasons, actor))
    out.print(f"{res.case.id} is {res.case.status}", highlight=False)
    if res.revoked:
        out.print(f"  revoked: {', '.join(res.revoked)}", highlight=False)
    if res.repaired:
        out.print(f"  repaired: {', '.join(res.repaired)}", highlight=False)
    for n in res.notices:
        out.print(f"  notice {n}", highlight=False, markup=False)


@app.command(epilog="Exit codes: 0 recorded; 2 bad input (no such record, another agency's "
             "record, a future date).")
def rectify(
    record: Annotated[str, typer.Argument(help="Record id")],
    agency: Annotated[str, typer.Option("--agency", help="The agency that made the record")],
    on: Annotated[str | None, typer.Option("--on", help="Date the obligation was performed "
                                           "(default: today)")] = None,
    note: Annotated[str, typer.Option("--note", help="What was done")] = "",
    database: LedgerOpt = None,
) -> None:
    """Record that the obligation behind a record was performed (履行). List entries resting on
    it end within the rule's working days."""
    from xinyong.process.workflow import rectify as run

    ledger = _ledger(database, must_exist=True)
    event = _run(lambda: run(ledger, record, agency, _date(on, "--on"), note))
    out.print(f"recorded {event}", highlight=False)


@app.command(epilog="Exit codes: 0 application filed; 1 refused as too early (the date it "
             "becomes possible is printed); 2 bad input.")
def repair(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier")],
    target: Annotated[str, typer.Option("--target", help="record:ID (a displayed penalty) or "
                                        "list:LIST")],
    reason: Annotated[str, typer.Option("--reason", help="What has been put right")] = "",
    commitment: Annotated[str, typer.Option(
        "--commitment", help="The credit commitment letter (信用承诺书): its text or reference; "
        "required where the repair rule in force asks for it (NDRC Order 36, from 2026-04-01)")
    ] = "",
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Apply for credit repair (信用修复) once the minimum publicity period has passed; a
    reviewer then decides (`xinyong resolve REP-… granted|refused`). Under the repair rule in
    force the application gets a deadline in working days (Credit China: 10)."""
    from xinyong.process.workflow import apply_for_repair

    policy = _policy(policies)
    ledger = _ledger(database, must_exist=True)
    who = _run(lambda: ledger.resolve(subject, policy))
    case = _run(lambda: apply_for_repair(ledger, policy, who, target, reason, commitment))
    if case.status == "refused":
        out.print(f"{case.id} refused: too early; credit repair of {case.target} is possible "
                  f"from {case.detail['possible_from']}", highlight=False)
        raise typer.Exit(1)
    due = f", answer due by {case.deadline}" if case.deadline else ""
    out.print(f"{case.id} filed{due}: a reviewer decides (`xinyong resolve {case.id} granted` "
              "or `refused`)", highlight=False)


@app.command(epilog="Exit codes: 0 listed; 2 bad input.")
def notices(
    subject: Annotated[str | None, typer.Option("--subject", help="Notices about this "
                                                "subject")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Notices served on this "
                                               "agency")] = None,
    as_json: JsonOpt = False,
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Notices served: before listing (to the subject), on removal, decisions on objections,
    and corrections to agencies after an upheld objection."""
    from xinyong.process.workflow import notices as find

    ledger = _ledger(database, must_exist=True)
    sid = _run(lambda: ledger.resolve(subject, _policy(policies))).id if subject else None
    found = find(ledger, recipient=f"agency:{agency}" if agency else None, subject=sid)
    if as_json:
        _print_json(found)
        return
    for n in found:
        grace = f", grace until {n['grace_ends']}" if n["grace_ends"] else ""
        out.print(f"{n['served']} {n['kind']} → {n['recipient']}: {n['entry'] or n['body']}"
                  f"{grace}", highlight=False, markup=False)
    out.print(f"{len(found)} notice(s)")


@app.command(epilog="Exit codes: 0 done; 2 bad input.")
def tick(
    until: Annotated[str | None, typer.Option("--until", help="Apply time-driven changes up to "
                                              "this date (default: today)")] = None,
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Apply every time-driven change, idempotently: notices before listing and on removal,
    human reviews for significant measures, overdue objections counted. Safe to run again."""
    from xinyong.process.workflow import tick as run

    policy = _policy(policies)
    ledger = _ledger(database, must_exist=True)
    r = _run(lambda: run(ledger, policy, _date(until, "--until")))
    out.print(f"tick {r.on}: {r.subjects} subjects, {r.listing_notices} listing notice(s), "
              f"{r.removal_notices} removal notice(s), {r.reviews_opened} review(s) opened, "
              f"{r.overdue_objections} overdue objection(s)", highlight=False)
