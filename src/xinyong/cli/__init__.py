"""The ``xinyong`` command line. Commands are thin: parse, call the core, print.

Commands come in groups, as a user thinks of them: ``xinyong ledger …``, ``xinyong process …``,
``xinyong service …``, ``xinyong policy …`` and ``xinyong sim …``; a subject's standing and
decisions (``evaluate``, ``decide``, ``explain``), ``demo`` and ``rate`` (the batch evaluator) are
top-level. Each group is a
module of its own that imports only ``cli.common``; this module makes the app and adds them.
The flat names of the previous release (``xinyong ingest``, ``xinyong tick``, …) stay for one
release as hidden aliases of the grouped commands (listed at the end of ``xinyong --help``).

Exit codes (all commands) are :class:`ExitCode`; a script can tell every outcome apart, and
nothing that failed or waits for a person exits 0.
"""

from __future__ import annotations

import copy
from typing import Annotated

import typer

from xinyong.cli import decisions, demo, ledger, policy, process, rate, service, sim
from xinyong.cli.common import EFFECT_EXIT, EXIT_CODES, ExitCode, out

__all__ = ["ALIASES", "EFFECT_EXIT", "EXIT_CODES", "ExitCode", "app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="xinyong (信用): credit records, ratings, red and black lists and joint reward and "
    "punishment, explainable down to the source record.\n\n" + EXIT_CODES,
)


def _print_version(value: bool) -> None:
    if value:
        from xinyong import __version__

        out.print(f"xinyong {__version__}", highlight=False)
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
    )] = False,
) -> None:
    pass


TOP_LEVEL = (decisions.app, demo.app, rate.app)
"""Command modules whose commands are top-level: ``xinyong evaluate``, ``xinyong demo``."""
GROUPS = {"ledger": ledger.app, "process": process.app, "service": service.app,
          "policy": policy.app, "sim": sim.app}
"""Group name → its commands: ``xinyong ledger ingest``."""

for module in TOP_LEVEL:
    app.registered_commands.extend(module.registered_commands)
for name, group in GROUPS.items():
    app.add_typer(group, name=name)

ALIASES: dict[str, str] = {}
"""Flat name of the previous release → the grouped command it runs, for one release."""
for name, group in GROUPS.items():
    for command in group.registered_commands:
        alias = copy.copy(command)
        alias.hidden = True
        app.registered_commands.append(alias)
        flat = command.name or command.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
        ALIASES[flat] = f"{name} {flat}"
    for sub in group.registered_groups:
        alias_group = copy.copy(sub)
        alias_group.hidden = True
        app.registered_groups.append(alias_group)
        ALIASES[str(sub.name)] = f"{name} {sub.name}"

app.info.epilog = "Aliases for one release (hidden): the flat names of the previous release " \
    "run the grouped commands: " + "; ".join(
        f"{flat} = {grouped}" for flat, grouped in ALIASES.items()) + "."


def main() -> None:  # pragma: no cover
    app()
