"""What every command shares: exit codes, the consoles, option types, and the helpers that
turn input into core values (a policy, a date, a population, a ledger, a standing) or a clear
error. Every command module imports this; this imports no command module."""

from __future__ import annotations

import errno
import json
import socket
import sys
from collections.abc import Callable
from datetime import date, datetime
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from xinyong.policy.loader import PolicyError
from xinyong.policy.model import Policy


class ExitCode(IntEnum):
    """What a command's exit status means, the same for every command."""

    OK = 0
    """Done; for ``decide``: allowed."""
    NEGATIVE = 1
    """A negative answer: denied, lint errors found, the ledger or a proof does not verify."""
    BAD_INPUT = 2
    """Refused, nothing done: bad input or usage, a busy port or store, a database error."""
    CONDITIONS = 3
    """``decide``: allowed with conditions (the conditions are printed)."""
    WAITS = 4
    """Waits for a person: ``decide`` refers to a reviewer; ``ingest`` queued rows for review."""


EXIT_CODES = ("Exit codes: 0 done (decide: allowed); 1 negative (denied, lint errors, does "
              "not verify); 2 refused: bad input, busy port or store, database error; 3 "
              "allowed with conditions; 4 waits for a person (referred to a reviewer, rows "
              "queued for review).")

EFFECT_EXIT = {"allow": ExitCode.OK, "deny": ExitCode.NEGATIVE,
               "allow_with_conditions": ExitCode.CONDITIONS,
               "refer_to_reviewer": ExitCode.WAITS}
"""Each decision effect's exit code: a gate script proceeds only on 0."""


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


DEFAULT_DATA = Path("xinyong-data")
T = TypeVar("T")

PoliciesOpt = Annotated[
    Path | None,
    typer.Option("--policies", help="Policy folder (default: $XINYONG_POLICIES or ./policies)"),
]
DataOpt = Annotated[
    Path, typer.Option("--data", help="Population folder written by `xinyong generate`")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date to evaluate on, YYYY-MM-DD (default: today)")
]
KnownAtOpt = Annotated[
    str | None,
    typer.Option("--known-at", help="Transaction time: only what was recorded by then "
                 "(YYYY-MM-DDTHH:MM; default: end of the as-of day)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text")]
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Read from the ledger at this URL (sqlite:///PATH or "
                 "postgresql://…) instead of a --data folder"),
]
LedgerOpt = Annotated[
    str | None,
    typer.Option("--database", help="Ledger URL (default: $XINYONG_DATABASE or "
                 "sqlite:///xinyong-data/ledger.db)"),
]


def fail(message: str, code: int = ExitCode.BAD_INPUT) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Turn known errors into clear messages and exit code 2, never a stack trace."""
    from xinyong.engine import UnknownAction
    from xinyong.standings import UnknownSubject

    try:
        return fn()
    except PolicyError as e:
        err.print(f"[bold red]error:[/] {len(e.problems)} problem(s) in the policy:",
                  highlight=False)
        for p in e.problems:
            err.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except (UnknownSubject, UnknownAction, FileNotFoundError) as e:
        fail(str(e).strip("'\""))


def _policy(path: Path | None) -> Policy:
    from xinyong.files import load_policy

    return guarded(lambda: load_policy(path))


def _date(text: str | None, option: str = "--as-of") -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not a date; write YYYY-MM-DD, e.g. 2024-03-01")


def _datetime(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--known-at {text!r} is not a date-time; write YYYY-MM-DDTHH:MM")
    if value.tzinfo is not None:
        fail(f"--known-at {text!r} has a time zone; write China Standard Time without an offset")
    return value


def _dataset(data: Path, policy: Policy) -> Any:
    from xinyong.checks import check_population
    from xinyong.dataset import Dataset
    from xinyong.sim.parquet import read_population

    if not (data / "subjects.parquet").exists():
        fail(f"no population at {data}; run `xinyong generate --seed 0 --out {data}` first")
    try:
        pop = read_population(data)
    except (OSError, ValueError, KeyError) as e:
        fail(f"the population at {data} cannot be read ({e}); regenerate it with "
             f"`xinyong generate --out {data}`")
    problems = check_population(policy, pop.subjects, pop.links, pop.records, pop.events)
    if problems:
        err.print(f"[bold red]error:[/] {len(problems)} bad row(s) in {data}; nothing was "
                  "evaluated:", highlight=False)
        for p in problems:
            err.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(ExitCode.BAD_INPUT)
    return Dataset(pop.subjects, pop.links, pop.records, pop.events)


def _resolve(ds: Any, policy: Policy, key: str) -> Any:
    return guarded(lambda: ds.resolve(key, policy.exceptions))


def _ledger(url: str | None, must_exist: bool = False) -> Any:
    from xinyong.ledger.store import Ledger, LedgerError, default_url

    url = url or default_url()
    if must_exist and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            fail(f"no ledger at {path}; ingest a file first (`xinyong ingest`)")
    try:
        return Ledger.open(url)
    except LedgerError as e:
        fail(str(e))


def _standing(policy: Policy, key: str, as_of: str | None, known_at: str | None, data: Path,
              database: str | None, why: str) -> Any:
    from xinyong.standings import standing

    day, known = _date(as_of), _datetime(known_at)
    if database is None:
        ds = _dataset(data, policy)
        return standing(ds, policy, _resolve(ds, policy, key), day, known)
    ledger = _ledger(database, must_exist=True)
    s = guarded(lambda: ledger.resolve(key, policy))
    found = standing(ledger, policy, s, day, known)
    import getpass

    # every read of personal data is logged: who, what, when, why
    ledger.audit(f"cli:{getpass.getuser()}", why, s.id,
                 {"as_of": day.isoformat(), "known_at": known.isoformat() if known else None})
    return found


def _write(pop: Any, directory: Path) -> dict[str, Path]:
    from xinyong.sim.parquet import write_population

    try:
        return write_population(pop, directory)
    except OSError as e:
        fail(f"cannot write the population to {directory}: {e.strerror or e}")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")



def _release(hold: Any) -> None:
    if hold is not None:
        hold.release()


def port_problem(host: str, port: int) -> str | None:
    """Why the service could not listen on host:port, or None if it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        return f"cannot listen on {host}: {getattr(e, 'strerror', None) or e}"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is in use (another `xinyong demo` or "
                        f"`xinyong serve`?); stop it, or pass --port")
            return f"cannot listen on {host}:{port}: {e.strerror or e}"
    return None
