"""A subject's standing and decisions: evaluate, decide, explain (top-level commands)."""

from __future__ import annotations

from typing import Annotated

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
    _policy,
    _print_json,
    _standing,
    guarded,
    out,
)

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
    from xinyong.engine.explain import explain as expl
    from xinyong.engine.explain import public_view, render

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
    policies: PoliciesOpt = None,
) -> None:
    """May SUBJECT do ACTION on the date? Exit 0 allow, 1 deny, 3 allow with conditions,
    4 refer to a reviewer."""
    from xinyong.engine import decide as run_decide
    from xinyong.engine.explain import decision_data

    policy = _policy(policies)
    standing = _standing(policy, subject, as_of, known_at, data, database, "decide")
    s = standing.subject
    d = guarded(lambda: run_decide(standing, action))
    body = decision_data(policy, standing, d)
    if as_json:
        _print_json(body)
    else:
        from xinyong.engine.explain import _render_reasons

        out.print(f"{s.name} ({s.id}) {action} on {d.on}: {d.effect.value.upper()}",
                  highlight=False)
        out.print("\n".join(_render_reasons(body["reasons"])) or "  no measure applies",
                  highlight=False, markup=False)
    raise typer.Exit(EFFECT_EXIT[d.effect.value])



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
    from xinyong.engine.explain import explain as expl
    from xinyong.engine.explain import render

    policy = _policy(policies)
    standing = _standing(policy, subject, as_of, known_at, data, database, "explain")
    body = guarded(lambda: expl(policy, standing, action))
    if as_json:
        _print_json(body)
    else:
        out.print(render(body), highlight=False, markup=False)
