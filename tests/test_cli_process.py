"""The due-process commands end to end, as a user runs them, on the shipped example feed."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from xinyong.cli import app

ROOT = Path(__file__).resolve().parents[1]
POLICIES = str(ROOT / "policies")
PERSON, FIRM = "110105198001010075", "91440300123456788M"  # rows R123 and R121–R122
runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_object_review_uphold_notify(tmp_path: Path) -> None:
    db = ("--database", f"sqlite:///{tmp_path}/ledger.db")
    pol = ("--policies", POLICIES)
    r = run("ingest", str(ROOT / "examples" / "debtors.csv"), "--agency", "courts", *db, *pol)
    assert r.exit_code == 4, r.output  # written, but R125 has no identifier: a person links it
    assert "1 queued for review" in r.output
    r = run("tick", *db, *pol)
    assert r.exit_code == 0 and "review(s) opened" in r.output
    again = run("tick", *db, *pol)
    assert "0 listing notice(s), 0 removal notice(s), 0 review(s) opened" in again.output

    # the person's air-ticket ban waits for a reviewer (significant measure): exit 4, never 0
    r = run("decide", PERSON, "transport.air.ticket", *db, *pol)
    assert r.exit_code == 4 and "REFER_TO_REVIEWER" in r.output
    r = run("objections", "--kind", "review", "--subject", PERSON, *db, *pol)
    [case] = [w for w in r.output.split() if w.startswith("REV-")]
    r = run("resolve", case, "confirmed", "--by", "reviewer:王芳", *db, *pol)
    assert r.exit_code == 0 and f"{case} is confirmed" in r.output
    r = run("decide", PERSON, "transport.air.ticket", *db, *pol)
    assert r.exit_code == 1 and "DENY" in r.output

    r = run("object", PERSON, "--target", "record:R123", "--reason", "paid in 2023", *db, *pol)
    due = date.today() + timedelta(days=20)
    assert r.exit_code == 0 and "OBJ-000001 filed" in r.output and str(due) in r.output
    r = run("object", PERSON, "--target", "record:R123", "--reason", "again", *db, *pol)
    assert r.exit_code == 2 and "already open: OBJ-000001" in r.output
    r = run("decide", PERSON, "transport.air.ticket", "--json", *db, *pol)
    assert r.exit_code == 1 and "record:R123" in r.output  # the reason says: disputed
    r = run("objections", "--open", *db, *pol)
    assert "OBJ-000001 [objection] filed: record:R123" in r.output and "1 open, 0 overdue" \
        in r.output

    r = run("resolve", "OBJ-000001", "upheld", *db, *pol)
    assert r.exit_code == 2 and "needs written reasons" in r.output
    r = run("resolve", "OBJ-000001", "granted", "--reasons", "x", *db, *pol)
    assert r.exit_code == 2 and "can go to under_review, upheld, rejected, withdrawn" in r.output
    r = run("resolve", "OBJ-000001", "upheld", "--reasons", "receipt verified", "--by",
            "reviewer:李明", *db, *pol)
    assert r.exit_code == 0 and "revoked: R123" in r.output
    r = run("decide", PERSON, "transport.air.ticket", *db, *pol)
    assert r.exit_code == 0 and "ALLOW" in r.output
    r = run("notices", "--agency", "caac", *db, *pol)
    assert r.exit_code == 0 and "correction → agency:caac" in r.output
    assert run("verify", *db).exit_code == 0


def test_bad_requests_are_clear_errors(tmp_path: Path) -> None:
    db = ("--database", f"sqlite:///{tmp_path}/ledger.db")
    pol = ("--policies", POLICIES)
    assert run("ingest", str(ROOT / "examples" / "debtors.csv"), "--agency", "courts", *db,
               *pol).exit_code == 4  # R125 waits in the review queue
    r = run("rectify", "R121", "--agency", "sat", *db)
    assert r.exit_code == 2 and "made by 'courts'" in r.output
    r = run("rectify", "R999", "--agency", "courts", *db)
    assert r.exit_code == 2 and "no record 'R999'" in r.output
    r = run("object", FIRM, "--target", "record:R123", "--reason", "not mine", *db, *pol)
    assert r.exit_code == 2 and "only that subject or its legal representative" in r.output
    r = run("object", FIRM, "--target", "licence:X", "--reason", "?", *db, *pol)
    assert r.exit_code == 2 and "write record:ID, list:LIST or grade:SCHEME" in r.output
    r = run("object", FIRM, "--target", "record:R121", "--reason", "x", "--rules", "gdpr",
            *db, *pol)
    assert r.exit_code == 2 and "use credit-reporting or fcra" in r.output
    r = run("resolve", "OBJ-000404", "upheld", "--reasons", "x", *db, *pol)
    assert r.exit_code == 2 and "no case 'OBJ-000404'" in r.output
    r = run("tick", "--until", "2024-13-01", *db, *pol)
    assert r.exit_code == 2 and "--until '2024-13-01' is not a date" in r.output
    assert "Traceback" not in r.output
