"""The command line in groups (issue 11, item 5): `xinyong ledger …`, `xinyong process …`,
`xinyong service …`, `xinyong policy …`, `xinyong sim …`; the flat names of the previous
release stay as hidden aliases for one release; the group modules never import the app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xinyong.cli import app

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "src" / "xinyong" / "cli"
POLICIES = str(ROOT / "policies")
runner = CliRunner()

GROUPED = {
    "ledger": ["ingest", "verify", "checkpoint", "prove", "check-proof", "review"],
    "process": ["object", "objections", "resolve", "rectify", "repair", "notices", "tick"],
    "service": ["serve", "users"],
    "policy": ["schema", "lint", "presets", "actions"],
    "sim": ["generate", "study"],
}
TOP_LEVEL = ["evaluate", "decide", "explain", "demo", "rate"]
SUBGROUPS = {"review": ["list", "link", "reject"], "users": ["add"]}


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def listed(help_text: str) -> list[str]:
    """The names in the 'Commands:' section of a help page."""
    lines = help_text.split("Commands:", 1)[1].splitlines()[1:]
    names = []
    for line in lines:
        if not line.startswith("  ") or line.startswith("   "):
            break
        names.append(line.split()[0])
    return names


def test_top_level_help_shows_the_groups_and_hides_the_flat_names() -> None:
    r = run("--help")
    assert r.exit_code == 0
    assert listed(r.output) == [*TOP_LEVEL, *GROUPED]
    text = " ".join(r.output.split())
    assert "Aliases for one release" in text
    for group, commands in GROUPED.items():
        for command in commands:
            assert f"{command} = {group} {command}" in text


@pytest.mark.parametrize("group", list(GROUPED))
def test_each_group_lists_its_commands(group: str) -> None:
    r = run(group, "--help")
    assert r.exit_code == 0 and listed(r.output) == GROUPED[group]


@pytest.mark.parametrize(("group", "command"), [
    (g, c) for g, cs in GROUPED.items() for c in cs if c not in SUBGROUPS])
def test_every_grouped_command_has_the_same_help_as_its_alias(group: str, command: str) -> None:
    grouped, flat = run(group, command, "--help"), run(command, "--help")
    assert grouped.exit_code == 0 and flat.exit_code == 0
    assert "Exit codes" in grouped.output
    # the same page but for the usage line, which names the command's path
    assert grouped.output.split("\n\n", 1)[1] == flat.output.split("\n\n", 1)[1]
    assert f" {group} {command} " in grouped.output.split("\n\n", 1)[0]


@pytest.mark.parametrize(("group", "sub"), [("ledger", "review"), ("service", "users")])
def test_subgroups_are_reachable_both_ways(group: str, sub: str) -> None:
    assert listed(run(group, sub, "--help").output) == SUBGROUPS[sub]
    assert listed(run(sub, "--help").output) == SUBGROUPS[sub]


def test_a_grouped_command_and_its_alias_do_the_same() -> None:
    grouped, flat = run("policy", "actions", "--policies", POLICIES), run(
        "actions", "--policies", POLICIES)
    assert grouped.exit_code == 0 and "transport.air.ticket" in grouped.output
    assert grouped.output == flat.output


def test_ledger_group_on_a_database(tmp_path: Path) -> None:
    db = ("--database", f"sqlite:///{tmp_path}/ledger.db")
    pol = ("--policies", POLICIES)
    r = run("ledger", "ingest", str(ROOT / "examples" / "debtors.csv"), "--agency", "courts",
            *db, *pol)
    assert r.exit_code == 4 and "1 queued for review" in r.output  # R125 has no identifier
    assert "1 open item(s)" in run("ledger", "review", "list", *db).output
    r = run("process", "tick", *db, *pol)
    assert r.exit_code == 0 and "review(s) opened" in r.output
    assert run("ledger", "verify", *db).exit_code == 0


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


@pytest.mark.parametrize("path", sorted(p for p in CLI.glob("*.py")
                                  if p.name not in ("__init__.py", "__main__.py")),
                         ids=lambda p: p.name)
def test_command_modules_import_only_the_shared_module(path: Path) -> None:
    ours = [n for n in _imports(path) if n.startswith("xinyong.cli")]
    shared = ("common", "render")  # what commands share: options and helpers, text rendering
    allowed = set() if path.stem in shared else {f"xinyong.cli.{m}" for m in shared}
    assert {n for n in ours if not n.startswith(tuple(f"{m}." for m in allowed))} <= allowed, (
        f"cli/{path.name} imports {ours}: a command module imports only cli.common and "
        "cli.render, never the app module or another group")


def test_readme_names_the_grouped_commands_and_the_aliases() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for group, commands in GROUPED.items():
        for command in commands:
            assert f"xinyong {group} {command}" in readme, f"{group} {command}"
    assert "aliases" in readme.lower()
