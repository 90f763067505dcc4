"""`xinyong decide --database` goes through the service's gate (issue 11, item 5): the access
table, the signed-memoranda filter of an enforcing agency, and an audit entry that records the
effect — the same answer the HTTP service gives that agency's enforcer."""

from __future__ import annotations

import getpass
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from xinyong.api.app import create_app
from xinyong.cli import app
from xinyong.files import load_policy
from xinyong.ledger.store import Ledger
from xinyong.service import add_user

ROOT = Path(__file__).resolve().parents[1]
POLICIES = str(ROOT / "policies")
PERSON = "110105198001010075"  # row R123 of examples/debtors.csv: a dishonest judgment debtor
AIR = "transport.air.ticket"
runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    r = run("ingest", str(ROOT / "examples" / "debtors.csv"), "--agency", "courts",
            "--database", f"sqlite:///{path}", "--policies", POLICIES)
    assert r.exit_code == 4, r.output  # written; R125 waits for a person
    return path


def decide(store: Path, *more: str):  # type: ignore[no-untyped-def]
    return run("decide", PERSON, AIR, "--database", f"sqlite:///{store}", "--policies",
               POLICIES, *more)


def audit(store: Path) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with sqlite3.connect(store) as c:
        rows = c.execute("SELECT actor, action, subject, detail FROM audit_log ORDER BY seq")
        return [(a, b, s, json.loads(d)) for a, b, s, d in rows]


def test_the_operators_decision_is_audited_with_its_effect(store: Path) -> None:
    r = decide(store)
    # the air-ticket ban is significant and nobody has confirmed it: a person decides
    assert r.exit_code == 4 and "REFER_TO_REVIEWER" in r.output
    actor, action, subject, detail = audit(store)[-1]
    assert (actor, action, subject) == (f"operator:cli:{getpass.getuser()}", "decisions", PERSON)
    assert detail == {"asks": [[PERSON, AIR, date.today().isoformat()]],
                      "effects": ["refer_to_reviewer"]}


def test_an_enforcer_sees_only_the_memoranda_its_agency_signed(store: Path) -> None:
    # The ban rests on the joint-punishment memorandum for dishonest debtors, which CAAC
    # signed; Shenzhen's traffic police signed only the jaywalker display memorandum.
    r = decide(store, "--agency", "shenzhen.traffic-police", "--json")
    body = json.loads(r.output)
    assert r.exit_code == 0 and body["effect"] == "allow" and body["measures"] == []
    r = decide(store, "--agency", "caac", "--json")
    assert r.exit_code == 4 and json.loads(r.output)["effect"] == "refer_to_reviewer"
    actor, action, _, detail = audit(store)[-1]
    assert (actor, action) == (f"enforcer:cli:{getpass.getuser()}", "decisions")
    assert detail["effects"] == ["refer_to_reviewer"]


def test_the_same_answer_as_the_http_service_gives_the_agencys_enforcer(store: Path) -> None:
    cli = decide(store, "--agency", "caac", "--json")
    ledger = Ledger.open(f"sqlite:///{store}")
    token = add_user(ledger, "caac-gate", "enforcer", agency="caac")
    client = TestClient(create_app(ledger, load_policy(Path(POLICIES))))
    http = client.post("/decisions", headers={"Authorization": f"Bearer {token}"},
                       json={"subject": PERSON, "action": AIR, "on": date.today().isoformat()})
    assert http.status_code == 200
    assert json.loads(cli.output) == http.json()


def test_refusals_are_clear_and_the_failed_ask_is_audited(store: Path) -> None:
    r = decide(store, "--agency", "nobody")
    assert r.exit_code == 2 and "unknown --agency 'nobody'" in r.output and "caac" in r.output
    # replaying an earlier transaction time: nothing had been recorded by then, so allow
    r = decide(store, "--known-at", "2024-01-01T10:00")
    assert r.exit_code == 0 and "ALLOW" in r.output
    assert audit(store)[-1][3]["known_at"] == "2024-01-01T10:00:00"
    r = run("decide", PERSON, AIR, "--agency", "caac", "--data", str(store.parent))
    assert r.exit_code == 2 and "add --database" in r.output
    before = len(audit(store))
    r = run("decide", "P999999", AIR, "--database", f"sqlite:///{store}", "--policies",
            POLICIES)
    assert r.exit_code == 2 and "P999999" in r.output and "Traceback" not in r.output
    [(actor, action, _, detail)] = audit(store)[before:]
    assert actor == f"operator:cli:{getpass.getuser()}" and action == "failed:decisions"
    assert "P999999" in detail["why"]
