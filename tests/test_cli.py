"""The command line: every command, its help, its exit codes and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xinyong.cli import app

ROOT = Path(__file__).resolve().parents[1]
POLICIES = str(ROOT / "policies")
runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("pop")
    r = run("generate", "--seed", "3", "--persons", "300", "--enterprises", "80",
            "--out", str(out), "--policies", POLICIES)
    assert r.exit_code == 0, r.output
    return str(out)


@pytest.mark.parametrize("command", ["lint", "schema", "generate", "evaluate", "decide", "presets",
                                     "explain", "actions", "demo", "study", "ingest",
                                     "verify", "checkpoint", "prove", "check-proof"])
def test_every_command_has_help(command: str) -> None:
    r = run(command, "--help")
    assert r.exit_code == 0 and "Usage" in r.output and "Exit codes" in r.output


def test_top_level_help_documents_exit_codes() -> None:
    r = run("--help")
    assert r.exit_code == 0 and "Exit codes" in r.output


def test_schema_is_json() -> None:
    r = run("schema")
    assert r.exit_code == 0 and "list_rule" in json.loads(r.output)["properties"]


def test_lint_default_profiles_pass() -> None:
    r = run("lint", "--policies", POLICIES)
    assert r.exit_code == 0, r.output
    assert "0 error(s)" in r.output


def test_lint_suining_under_cn_2021_fails_with_sources() -> None:
    r = run("lint", "--profile", "cn-2021", "--policies", POLICIES, POLICIES + "/suining")
    assert r.exit_code == 1
    assert "policies/suining/" in r.output and "no-score-penalty" in r.output
    assert "rule from:" in r.output
    assert "jiakuang" not in r.output  # only the path asked for


def test_lint_historical_passes() -> None:
    r = run("lint", "--profile", "historical", "--policies", POLICIES, POLICIES + "/suining")
    assert r.exit_code == 0 and "warning" in r.output


def test_lint_broken_policy_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "policies" / "x"
    bad.mkdir(parents=True)
    (bad / "preset.toml").write_text('[preset]\nid = "xx"\ntitle = "t"\nsources = [\n')
    r = run("lint", "--policies", str(tmp_path / "policies"))
    assert r.exit_code == 2
    assert "policies/x/preset.toml:" in r.output and "TOML syntax" in r.output


def test_evaluate_decide_explain(data: str) -> None:
    r = run("evaluate", "E000001", "--as-of", "2025-12-31", "--json", "--data", data,
            "--policies", POLICIES)
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["subject"]["id"] == "E000001" and body["as_of"] == "2025-12-31"
    ident = body["subject"]["identifiers"][0].split(":", 1)[1]
    by_ident = run("evaluate", ident, "--as-of", "2025-12-31", "--json", "--data", data,
                   "--policies", POLICIES)
    assert json.loads(by_ident.output)["subject"]["id"] == "E000001"
    r = run("decide", "P000001", "transport.rail.ordinary.ticket", "--as-of", "2025-12-31",
            "--data", data, "--policies", POLICIES)
    assert r.exit_code == 0 and "ALLOW" in r.output
    r = run("explain", "E000001", "--action", "procurement.bid", "--as-of", "2025-12-31",
            "--data", data, "--policies", POLICIES)
    assert r.exit_code == 0 and "Decision on procurement.bid" in r.output


def test_decide_exit_code_follows_the_effect(data: str) -> None:
    # find a subject that is denied an air ticket somewhere in the population
    for sid in [f"P{i:06d}" for i in range(1, 301)]:
        r = run("decide", sid, "transport.air.ticket", "--as-of", "2025-12-31", "--json",
                "--data", data, "--policies", POLICIES)
        body = json.loads(r.output)
        expected = {"deny": 1, "allow": 0, "allow_with_conditions": 3}[body["effect"]]
        assert r.exit_code == expected
        if body["effect"] == "deny":
            assert body["reasons"][0]["memorandum_number"]
            assert body["reasons"][0]["legal_basis"]
            return
    pytest.fail("no denied subject in the synthetic population")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("evaluate", "91110000600037341M"), "'L' was expected"),
        (("evaluate", "X999"), "no subject 'X999'"),
        (("evaluate", "P000001", "--as-of", "2025-13-01"), "not a date"),
        (("decide", "P000001", "transport.air.tickets"), "unknown action"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(data: str, args: tuple[str, ...],
                                                fragment: str) -> None:
    r = run(*args, "--data", data, "--policies", POLICIES)
    assert r.exit_code == 2
    assert fragment in r.output
    assert "Traceback" not in r.output


def test_missing_data_says_how_to_make_it(tmp_path: Path) -> None:
    r = run("evaluate", "P000001", "--data", str(tmp_path / "none"), "--policies", POLICIES)
    assert r.exit_code == 2 and "xinyong generate" in r.output


def test_actions_lists_the_vocabulary() -> None:
    r = run("actions", "--policies", POLICIES)
    assert r.exit_code == 0 and "transport.rail.ordinary.ticket" in r.output


def test_docs_presets_page_is_current() -> None:
    """docs/presets.md is `xinyong presets` output: it may not drift from the files."""
    r = run("presets", "--policies", POLICIES)
    assert r.exit_code == 0
    page = (ROOT / "docs" / "presets.md").read_text(encoding="utf-8")
    assert r.output == page, "regenerate with: .venv/bin/xinyong presets > docs/presets.md"


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in app.registered_commands:
        name = command.name or command.callback.__name__  # type: ignore[union-attr]
        assert f"xinyong {name}" in readme, name


def test_bad_rows_are_all_reported_and_nothing_is_evaluated(data: str, tmp_path: Path) -> None:
    import dataclasses

    from xinyong.sim.parquet import read_population, write_population

    pop = read_population(Path(data))
    recs = list(pop.records)
    recs[0] = dataclasses.replace(recs[0], category="social.religion.attendance")
    recs[1] = dataclasses.replace(recs[1], agency="nobody")
    bad = dataclasses.replace(pop, records=tuple(recs))
    write_population(bad, tmp_path)
    r = run("evaluate", "P000001", "--data", str(tmp_path), "--policies", POLICIES)
    assert r.exit_code == 2
    assert "2 bad row(s)" in r.output
    assert f"records.parquet row 1 ({recs[0].id}) field category" in r.output
    assert f"records.parquet row 2 ({recs[1].id}) field agency" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("evaluate", "P000001", "--known-at", "2024-01-01T10:00+08:00"), "time zone"),
        (("schema", "--out", "/nonexistent/dir/x.json"), "cannot write"),
        (("generate", "--persons", "0"), "greater than or equal to 1"),
        (("lint", "policies/nonexistent"), "does not exist"),
    ],
)
def test_more_bad_input_never_gives_a_traceback(data: str, args: tuple[str, ...],
                                                fragment: str) -> None:
    extra = ["--data", data] if args[0] == "evaluate" else []
    extra += ["--policies", POLICIES] if args[0] != "schema" else []
    r = runner.invoke(app, [*args, *extra])
    assert r.exit_code == 2, r.output
    assert fragment in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_non_utf8_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "policies"
    shutil.copytree(POLICIES, root)
    (root / "national" / "broken.toml").write_bytes(b"title = \"\xff\xfe\"\n")
    (root / "national" / "dir.toml").mkdir()
    r = run("lint", "--policies", str(root))
    assert r.exit_code == 2 and "broken.toml" in r.output and "UTF-8" in r.output


def test_legacy_code_is_found_through_the_audited_exception(data: str) -> None:
    r = run("evaluate", "91350100M0001TGQXM", "--data", data, "--policies", POLICIES)
    assert r.exit_code == 2 and "no subject" in r.output  # accepted as valid, just not present
