"""Service commands: serve, users. Registered on the main ``xinyong`` app."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from xinyong.cli import LedgerOpt, PoliciesOpt, _ledger, _policy, app, fail, out

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
        from xinyong.cli import guarded

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
    from xinyong.cli import guarded
    from xinyong.files import default_policy_dir, read_policy_texts
    from xinyong.ledger.holders import StoreBusy, StoreHold, sqlite_file
    from xinyong.ledger.store import default_url
    from xinyong.pilot.demo import port_problem

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


@app.command(epilog="Exit codes: 0 set up (with --no-serve) or stopped with Ctrl-C; 2 "
             "refused: the port is taken, another process holds the store, the database is "
             "not a SQLite file or holds a ledger the demo did not make, the policy does not "
             "load.")
def demo(
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same population")] = 0,
    persons: Annotated[int, typer.Option(min=1, help="Number of persons")] = 2000,
    enterprises: Annotated[int, typer.Option(min=1, help="Number of enterprises")] = 400,
    database: Annotated[str | None, typer.Option(
        "--database", help="The demo's store, a SQLite file, deleted and recreated on every "
        "run (default: $XINYONG_DATABASE or sqlite:///xinyong-data/ledger.db)")] = None,
    policies: PoliciesOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    no_serve: Annotated[bool, typer.Option(
        "--no-serve", help="Set everything up, print the tokens and examples, and exit")] =
    False,
) -> None:
    """The platform with a year of synthetic history, served: create a fresh SQLite store
    (deleting the previous demo store; a ledger the demo did not make is never deleted: the
    demo stops with an error, as it does while another process serves the store), load every
    preset, generate a population whose
    history ends today and write it to the store day by day, run the time-driven process
    (`tick`: notices, human reviews), create one user per role and print its token with a
    ready-to-paste curl example, then serve the HTTP API until Ctrl-C."""
    import time
    from contextlib import contextmanager
    from datetime import date

    from xinyong.api.app import create_app
    from xinyong.cli import guarded
    from xinyong.files import default_policy_dir, read_policy_texts
    from xinyong.ledger.holders import StoreBusy, StoreHold
    from xinyong.ledger.store import LedgerError
    from xinyong.pilot import demo as d
    from xinyong.process.workflow import tick
    from xinyong.sim.ledger_load import load_population

    started = time.perf_counter()

    @contextmanager
    def step(doing: str) -> Any:
        t0 = time.perf_counter()
        with out.status(doing + "…"):
            yield
        out.print(f"[green]✓[/] {doing} [dim]({time.perf_counter() - t0:.1f} s)[/]",
                  highlight=False)

    hold: StoreHold | None = None
    try:
        if not no_serve and (why := d.port_problem(host, port)):
            fail(why)
        today = date.today()
        with step("Creating the store"):
            hold = StoreHold(d.store_path(database), exclusive=True)
            ledger, removed = d.fresh_store(database)
        path = d.store_path(database)
        for p in removed:
            out.print(f"  deleted the previous demo store's {p}", highlight=False)
        out.print(f"  {path} (SQLite)", highlight=False)
        with step("Loading every preset"):
            root = policies or default_policy_dir()
            policy = _policy(root)
            files = guarded(lambda: read_policy_texts(root))
        out.print("  " + ", ".join(f"{n} {what}" for what, n in
                                   d.policy_summary(policy, today).items()), highlight=False)
        with step("Generating a population with a year of history"):
            pop = guarded(lambda: d.history(policy, today, seed=seed, persons=persons,
                                            enterprises=enterprises))
        out.print(f"  seed {seed}: {len(pop.subjects)} subjects, {len(pop.links)} links, "
                  f"{len(pop.records)} records, {len(pop.events)} events, {pop.start} to "
                  f"{pop.end}", highlight=False)
        with step("Writing it to the store, day by day"):
            loaded = load_population(ledger, pop)
        out.print("  " + ", ".join(f"{n} {k}s" for k, n in loaded.written.items())
                  + f" in {loaded.transactions} transactions, recorded {loaded.first:%Y-%m-%d} "
                  f"to {loaded.last:%Y-%m-%d %H:%M}", highlight=False)
        with step("Running the time-driven process (tick)"):
            report = tick(ledger, policy)
        out.print(f"  on {report.on}: {report.subjects} subjects, {report.listing_notices} "
                  f"listing notices, {report.removal_notices} removal notices, "
                  f"{report.reviews_opened} human reviews opened, {report.overdue_objections} "
                  "overdue objections", highlight=False)
        with step("Creating one user per role"):
            api = create_app(ledger, policy, None if no_serve else 3600.0, files=files)
            users = d.create_users(ledger, policy, d.cast(ledger, policy, pop, today), today,
                                   d.admin_paths(api))
    except (d.DemoError, LedgerError, StoreBusy) as e:
        _release(hold)
        fail(str(e))
    except OSError as e:  # the store's folder cannot be made or written
        _release(hold)
        fail(f"cannot make the demo store: {e.strerror or e}"
             + (f" ({e.filename})" if e.filename else ""))
    out.print(f"[bold]Set up in {time.perf_counter() - started:.1f} s.[/]", highlight=False)
    _print_users(users, f"http://{host}:{port}", path)
    if no_serve:
        _release(hold)
        return
    import uvicorn

    if hold:
        hold.share()  # serving now: held against another demo's recreating it
    out.print(f"\n[bold]Serving on http://{host}:{port}[/] (Ctrl-C to stop)", highlight=False)
    try:
        uvicorn.run(api, host=host, port=port, log_level="info")
    finally:
        _release(hold)


def _release(hold: Any) -> None:
    if hold is not None:
        hold.release()


def _print_users(users: list[Any], base: str, path: Any) -> None:
    from rich import box
    from rich.table import Column, Table

    width = max((len(u.token or "") for u in users), default=0)
    table = Table("role", Column("token", no_wrap=True, min_width=width),
                  Column("user", no_wrap=True), "acts for", box=box.SIMPLE_HEAD, pad_edge=False,
                  title="Users (a token is shown only now; the store keeps its hash)")
    for u in users:
        table.add_row(u.role, u.token or "none needed", u.user or "—", u.acts_for)
    out.print(table)
    out.print("\n[bold]Try[/] (each as its role):", highlight=False)
    for u in users:
        out.print(f"# {u.role}: {u.example.shows}", highlight=False, markup=False)
        out.print(u.example.curl(base, u.token), highlight=False, markup=False)
    out.print(f"\nInteractive docs: {base}/docs\nOpenAPI document: {base}/openapi.json\n"
              f"Health:           {base}/health", highlight=False)
    out.print(f"The store stays in {path}: e.g. `xinyong verify --database sqlite:///{path}`",
              highlight=False, markup=False)
