"""`xinyong demo`: the store, the history, tick, a user per role, and printed examples that
work as printed."""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from xinyong.api.app import create_app
from xinyong.cli import app
from xinyong.ledger.store import Batch, Ledger
from xinyong.policy.model import Policy
from xinyong.process.workflow import notices
from xinyong.service import ROLES, authenticate
from xinyong.sim.population import generate

ROOT = Path(__file__).resolve().parents[1]
POLICIES = str(ROOT / "policies")
runner = CliRunner()


def demo(url: str, *more: str) -> Any:
    return runner.invoke(app, ["demo", "--no-serve", "--persons", "400", "--enterprises",
                               "80", "--database", url, "--policies", POLICIES, *more])


def examples(output: str) -> dict[str, tuple[str | None, list[str]]]:
    """role → (token, curl argv), as printed under '# role: …'."""
    found: dict[str, tuple[str | None, list[str]]] = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# ") and i + 1 < len(lines) and lines[i + 1].startswith("curl "):
            role = line[2:].split(":", 1)[0]
            argv = shlex.split(lines[i + 1])
            token = next((a.removeprefix("Authorization: Bearer ") for a in argv
                          if a.startswith("Authorization: Bearer ")), None)
            found[role] = (token, argv)
    return found


def replay(client: TestClient, argv: list[str]) -> Any:
    """Run a printed curl command against the app in-process."""
    assert argv[:2] == ["curl", "-s"], argv
    headers: dict[str, str] = {}
    params: list[tuple[str, str]] = []
    body = None
    get = False
    args = iter(argv[2:-1])
    for a in args:
        if a == "-H":
            k, _, v = next(args).partition(": ")
            headers[k] = v
        elif a == "-G":
            get = True
        elif a == "--data-urlencode":
            k, _, v = next(args).partition("=")
            params.append((k, v))
        elif a == "-d":
            body = next(args)
        else:
            raise AssertionError(f"unexpected curl argument {a!r}")
    url = urlsplit(argv[-1])
    assert (url.scheme, url.netloc) == ("http", "127.0.0.1:8000")
    method = "POST" if body is not None and not get else "GET"
    return client.request(method, url.path, params=params, headers=headers,
                          content=body.encode() if body else None)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/ledger.db"
    r = demo(url)
    assert r.exit_code == 0, r.output
    return url, r.output


def test_the_store_is_made_and_verifies(first: tuple[str, str]) -> None:
    url, output = first
    ledger = Ledger.open(url)
    assert ledger.verify().ok
    counts = ledger.counts()
    assert counts["subject"] > 400 and counts["record"] > 0
    # Every shipped preset loads.
    presets = len(list((Path(__file__).parents[1] / "policies").glob("*/preset.toml")))
    assert f"{presets} presets" in output and "Set up in" in output and "Traceback" not in output


def test_history_is_a_year_recorded_day_by_day(first: tuple[str, str]) -> None:
    from datetime import date, timedelta

    from sqlalchemy import func, select

    from xinyong.ledger import tables as t

    with Ledger.open(first[0]).engine.connect() as conn:
        lo, hi, known, days = conn.execute(select(
            func.min(t.records.c.effective), func.max(t.records.c.effective),
            func.min(t.records.c.recorded_at),
            func.count(func.distinct(t.records.c.recorded_at)))).one()
    today = date.today()
    assert today - timedelta(days=365) < lo and hi <= today
    # written day by day, not all today: a question about a past day sees what was known then
    assert days > 100 and known.date() < today - timedelta(days=200)


def test_every_role_gets_a_working_token(first: tuple[str, str]) -> None:
    url, output = first
    ledger = Ledger.open(url)
    found = examples(output)
    assert set(found) == set(ROLES)
    assert found["public"][0] is None
    for role, (token, _) in found.items():
        if role != "public":
            assert token is not None and token in output
            who = authenticate(ledger, token)
            assert who is not None and who[1] == role, role


def test_tick_ran(first: tuple[str, str]) -> None:
    served = notices(Ledger.open(first[0]))
    assert any(n["kind"] == "listing" for n in served)


def test_the_printed_examples_work(first: tuple[str, str], policy: Policy) -> None:
    url, output = first
    client = TestClient(create_app(Ledger.open(url), policy))
    answers = {}
    for role, (_, argv) in examples(output).items():
        r = replay(client, argv)
        assert r.status_code == 200, (role, r.text)
        answers[role] = r.json()
    assert answers["public"], "the public example finds a published entry"
    assert answers["public"][0]["list_entries"]
    assert answers["subject"]["subject"]["id"].startswith("P")
    assert answers["enforcer"]["effect"] in ("deny", "refer_to_reviewer")
    assert answers["reviewer"] and all(c["kind"] == "review" for c in answers["reviewer"])
    assert answers["submitter"]["written"] == 1
    again = replay(client, examples(output)["submitter"][1])  # resubmitted: nothing new
    assert again.status_code == 200 and again.json()["written"] == 0


def test_a_second_run_starts_afresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    one, two = demo(url), demo(url)
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert "deleted the previous demo store" in two.output
    ledger = Ledger.open(url)
    assert ledger.verify().ok
    tokens = [t for t, _ in examples(two.output).values() if t]
    assert all(authenticate(ledger, t) for t in tokens)
    assert not any(authenticate(ledger, t) for t, _ in examples(one.output).values() if t)


def test_a_store_not_made_by_the_demo_is_left_alone(tmp_path: Path, policy: Policy) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    pop = generate(policy, seed=1, persons=5, enterprises=1, public_bodies=0, social_orgs=0)
    Ledger.open(url).write(Batch(subjects=list(pop.subjects)))
    r = demo(url)
    assert r.exit_code == 2 and "did not make" in r.output and "Traceback" not in r.output
    assert (tmp_path / "ledger.db").exists()
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        assert conn.execute("SELECT count(*) FROM subjects").fetchone()[0] == len(pop.subjects)


@pytest.mark.parametrize("url", ["postgresql://localhost/x", "sqlite:///:memory:"])
def test_the_demo_needs_a_sqlite_file(url: str) -> None:
    r = demo(url)
    assert r.exit_code == 2 and "SQLite file" in r.output and "Traceback" not in r.output


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = runner.invoke(app, ["demo", "--port", str(port), "--database",
                                f"sqlite:///{tmp_path}/ledger.db", "--policies", POLICIES])
    assert r.exit_code == 2 and f"port {port}" in r.output and "in use" in r.output
    assert not (tmp_path / "ledger.db").exists()  # refused before anything was done


def test_help_describes_it() -> None:
    r = runner.invoke(app, ["demo", "--help"])
    assert r.exit_code == 0 and "--no-serve" in r.output and "Exit codes" in r.output
