"""A subject's standing and decisions: evaluate, decide, explain (top-level commands)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from xinyong.cli.common import (
    DEFAULT_DATA,
    EFFECT_EXIT,
    AsOfOpt,
    DatabaseOpt,
    DataOpt,
    JsonOpt,
    KnownAtOpt,
    PoliciesOpt,
    _date,
    _datetime,
    _ledger,
    _policy,
    _print_json,
    _standing,
    fail,
    guarded,
    out,
)
from xinyong.policy.model import Policy

app = typer.Typer()


@app.command(
    epilog="Exit codes: 0 evaluated; 2 bad input (unknown subject, invalid identifier or "
    "date, missing data, policy does not load)."
)
def evaluate(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier (USCC / RIC)")],
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    as_json: JsonOpt = False,
    public: Annotated[bool, typer.Option(
        "--public", help="Only what the public portal shows (implies --json)")] = False,
    data: DataOpt = DEFAULT_DATA,
    database: DatabaseOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """A subject's standing: ratings, list entries and measures in force, explained (the
    subject's own full file), or with --public only what the public sees."""
    from xinyong.cli.render import render
    from xinyong.engine.explain import explain as expl
    from xinyong.engine.explain import public_view

    policy = _policy(policies)
    standing = _standing(policy, subject, as_of, known_at, data, database, "evaluate")
    if public:
        _print_json(public_view(policy, standing))
        return
    body = expl(policy, standing)
    if as_json:
        _print_json(body)
    else:
        out.print(render(body), highlight=False, markup=False)


@app.command(
    epilog="Exit codes: 0 allow; 1 deny; 2 bad input (unknown subject or action, invalid "
    "identifier or date, missing data); 3 allow with conditions; 4 refer to a reviewer (a "
    "significant measure waits for a person's confirmation: do not proceed yet)."
)
def decide(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier")],
    action: Annotated[str, typer.Argument(help="Action id, e.g. transport.air.ticket")],
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    as_json: JsonOpt = False,
    data: DataOpt = DEFAULT_DATA,
    database: DatabaseOpt = None,
    agency: Annotated[str | None, typer.Option(
        "--agency", help="With --database: decide as this enforcing agency, seeing only the "
        "measures of memoranda it signed, as the HTTP service answers its enforcers (default: "
        "as the platform's operator, every memorandum)")] = None,
    policies: PoliciesOpt = None,
) -> None:
    """May SUBJECT do ACTION on the date? Exit 0 allow, 1 deny, 3 allow with conditions,
    4 refer to a reviewer. On a ledger (--database) the decision goes through the service's
    gate: its access table, the signed-memoranda filter, and its audit entry with the effect."""
    from xinyong.engine import decide as run_decide
    from xinyong.engine.explain import decision_data

    policy = _policy(policies)
    if database is not None:
        body, name = _gated(policy, subject, action, as_of, known_at, agency, database)
    elif agency is not None:
        fail("--agency decides as that enforcer through the service's gate, on a ledger: add "
             "--database URL")
    else:
        standing = _standing(policy, subject, as_of, known_at, data, database, "decide")
        d = guarded(lambda: run_decide(standing, action))
        body, name = decision_data(policy, standing, d), standing.subject.name
    if as_json:
        _print_json(body)
    else:
        from xinyong.cli.render import render_reasons

        out.print(f"{name} ({body['subject']}) {action} on {body['on']}: "
                  f"{body['effect'].upper()}", highlight=False)
        out.print("\n".join(render_reasons(body["reasons"])) or "  no measure applies",
                  highlight=False, markup=False)
    raise typer.Exit(EFFECT_EXIT[body["effect"]])


def _gated(policy: Policy, key: str, action: str, as_of: str | None, known_at: str | None,
           agency: str | None, database: str) -> tuple[dict[str, Any], str]:
    """The decision on the ledger as the service gives it (``Service.decisions``): checked
    against ``ACCESS``, an enforcing agency's view only of the memoranda it signed, and audited
    with the ask and its effect. The caller is the operator, or an enforcer for ``agency``."""
    import getpass

    from xinyong.service import NotFound, Principal, Service

    agencies = sorted({a.id for a in policy.all("agency")})
    if agency is not None and agency not in agencies:
        fail(f"unknown --agency {agency!r}; use one of the policy's agencies: "
             f"{', '.join(agencies)}")
    day = _date(as_of)
    ledger = _ledger(database, must_exist=True)
    user = f"cli:{getpass.getuser()}"
    who = Principal(user, "enforcer", agency=agency) if agency else Principal(user, "operator")
    try:
        [body] = Service(ledger, policy).decisions(who, [(key, action, day)],
                                                   _datetime(known_at))
    except NotFound as e:
        fail(str(e).strip("'\""))
    sid = body["subject"]
    return body, ledger.subjects([sid])[sid].name



@app.command(
    epilog="Exit codes: 0 explained; 2 bad input (unknown subject or action, invalid "
    "identifier or date, missing data)."
)
def explain(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier")],
    action: Annotated[str | None, typer.Option("--action", help="Also decide this action")] = None,
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    as_json: JsonOpt = False,
    data: DataOpt = DEFAULT_DATA,
    database: DatabaseOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """The full chain for a subject: measure ← clause ← memorandum ← list entry ← records ←
    legal basis, and how each restriction can be lifted."""
    from xinyong.cli.render import render
    from xinyong.engine.explain import explain as expl

    policy = _policy(policies)
    standing = _standing(policy, subject, as_of, known_at, data, database, "explain")
    body = guarded(lambda: expl(policy, standing, action))
    if as_json:
        _print_json(body)
    else:
        out.print(render(body), highlight=False, markup=False)
