"""`xinyong demo`: the platform with a year of synthetic history, served (a top-level
command; the steps are in ``xinyong.pilot.demo``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from xinyong.cli.common import PoliciesOpt, _policy, _release, fail, guarded, out, port_problem

app = typer.Typer()


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
        if not no_serve and (why := port_problem(host, port)):
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
