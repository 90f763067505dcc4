"""Service commands: serve, users (`xinyong service …`)."""

from __future__ import annotations

from typing import Annotated

import typer

from xinyong.cli.common import (
    LedgerOpt,
    PoliciesOpt,
    _ledger,
    _policy,
    _release,
    fail,
    guarded,
    out,
    port_problem,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The HTTP service: serve it, and its users and tokens.")
users_app = typer.Typer(help="Users of the service and their tokens (stored hashed).")
app.add_typer(users_app, name="users")


@users_app.command("add", epilog="Exit codes: 0 created (the token is printed once); 2 bad "
                   "input (unknown role, missing --subject or --agency, the user exists).")
def users_add(
    user: Annotated[str, typer.Argument(help="User id, e.g. caac-gate-1")],
    role: Annotated[str, typer.Option("--role", help="subject, submitter, enforcer, reviewer "
                                      "or admin")],
    subject: Annotated[str | None, typer.Option("--subject", help="For role subject: the "
                                                "subject it acts for")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="For submitter and enforcer: "
                                               "the agency it acts for")] = None,
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Create a user and print its token. Only the token's SHA-256 is stored: keep the token."""
    from xinyong.ledger.store import LedgerError
    from xinyong.service import add_user

    ledger = _ledger(database)
    sid = None
    if subject:
        sid = guarded(lambda: ledger.resolve(subject, _policy(policies))).id
    try:
        token = add_user(ledger, user, role, subject=sid, agency=agency)
    except LedgerError as e:
        fail(str(e))
    out.print(token, highlight=False)


@app.command(epilog="Exit codes: 0 stopped cleanly; 2 refused: the port is taken, the store "
             "is being recreated by a demo, bad database or policies.")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    tick_every: Annotated[float, typer.Option(
        "--tick-every", help="Seconds between runs of the time-driven process (0: never)")] =
    3600.0,
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Run the platform's HTTP API (FastAPI on uvicorn) over the ledger. The OpenAPI document
    is at /openapi.json, interactive docs at /docs."""
    import uvicorn

    from xinyong.api.app import create_app
    from xinyong.files import default_policy_dir, read_policy_texts
    from xinyong.ledger.holders import StoreBusy, StoreHold, sqlite_file
    from xinyong.ledger.store import default_url

    if why := port_problem(host, port):  # before uvicorn, whose exit code 3 would mislead
        fail(why)
    root = policies or default_policy_dir()
    ledger = _ledger(database)
    store = sqlite_file(database or default_url())
    try:
        hold = StoreHold(store, exclusive=False) if store else None
    except StoreBusy as e:
        fail(str(e))
    api = create_app(ledger, _policy(root), tick_every or None,
                     files=guarded(lambda: read_policy_texts(root)))
    try:
        uvicorn.run(api, host=host, port=port, log_level="info")
    finally:
        _release(hold)
