"""The ledger commands end to end, as a user runs them (SQLite)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from xinyong.cli import app
from xinyong.ids import make_ric, make_uscc

ROOT = Path(__file__).resolve().parents[1]
POLICIES = str(ROOT / "policies")
runner = CliRunner()
HEAD = ["记录编号", "证件号码", "被执行人", "地区代码", "失信情形", "立案日期", "发布日期",
        "执行依据文号", "法律依据", "未履行金额", "执行法院"]


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def _file(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEAD)
        w.writerows(rows)
    return path


def test_ingest_verify_prove_check(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    firm = make_uscc("9", "1", "350203", "12345678")
    person = make_ric("350203", "19850301", 12)
    good = _file(tmp_path / "debtors.csv", [
        ["C1", firm, "厦门某某公司", "350203", "judicial.debtor.refuses_to_perform",
         "2023-05-01", "2023-06-01", "(2023)闽0203执1号", "", "120000.50", "思明区法院"],
        ["C2", person, "王某", "350203", "judicial.debtor.evades_enforcement",
         "2023-05-02", "2023-06-02", "(2023)闽0203执2号", "civil-procedure-law", "", "思明区法院"],
    ])
    r = run("ingest", str(good), "--agency", "courts", "--database", db, "--policies", POLICIES)
    assert r.exit_code == 0, r.output
    assert "2 records written" in r.output and "2 new subjects" in r.output
    again = run("ingest", str(good), "--agency", "courts", "--database", db, "--policies",
                POLICIES)
    assert again.exit_code == 0 and "already ingested" in again.output
    r = run("verify", "--database", db)
    assert r.exit_code == 0 and r.output.startswith("ok:")
    r = run("prove", "C2", "--database", db)
    assert r.exit_code == 0
    proof = tmp_path / "proof.json"
    proof.write_text(r.output, encoding="utf-8")
    r = run("check-proof", str(proof))
    assert r.exit_code == 0 and "ok: record C2" in r.output
    forged = json.loads(proof.read_text())
    forged["payload"] = forged["payload"].replace("evades_enforcement", "refuses_to_perform")
    proof.write_text(json.dumps(forged))
    assert run("check-proof", str(proof)).exit_code == 1
    r = run("evaluate", firm, "--database", db, "--as-of", "2024-01-01", "--json",
            "--policies", POLICIES)
    assert r.exit_code == 0, r.output
    # recorded today: on 2024-01-01 nothing of this was known yet (transaction time)
    entries = json.loads(r.output)["list_entries"]
    assert [e for e in entries if e["list"] == "spc.dishonest_debtors"] == []
    # with today's knowledge the same firm is on the court list from 1 July 2023 (1 month grace)
    r = run("evaluate", firm, "--database", db, "--as-of", "2024-01-01", "--known-at",
            "2099-01-01T00:00", "--json", "--policies", POLICIES)
    court = [e for e in json.loads(r.output)["list_entries"]
             if e["list"] == "spc.dishonest_debtors"]
    assert [(e["start"], e["status"]) for e in court] == [("2023-07-01", "active")]


def test_a_bad_file_lists_every_bad_row_and_writes_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    firm = make_uscc("9", "1", "350203", "12345678")
    bad = _file(tmp_path / "bad.csv", [
        ["C1", firm[:-1] + ("0" if firm[-1] != "0" else "1"), "厦门某某公司", "350203",
         "judicial.debtor.refuses_to_perform", "2023-05-01", "2023-06-01", "(2023)1号", "",
         "", ""],
        ["C2", firm, "厦门某某公司", "350203", "social.religion.attendance", "2023-05-01",
         "2023-06-01", "(2023)2号", "", "", ""],
        ["C3", firm, "厦门某某公司", "350203", "judicial.debtor.refuses_to_perform",
         "2023-05-01", "2099-01-01", "", "", "-5", ""],
    ])
    r = runner.invoke(app, ["ingest", str(bad), "--agency", "courts", "--database", db,
                            "--policies", POLICIES])
    assert r.exit_code == 2
    out = r.output
    assert "nothing was written" in out
    assert "line 2 (record C1), field identifier" in out and "was expected" in out
    assert "line 3 (record C2), field category" in out
    assert "line 4 (record C3), field effective" in out and "in the future" in out
    assert "line 4 (record C3), field document_no" in out
    assert "line 4 (record C3), field 未履行金额" in out
    assert run("verify", "--database", db).output.startswith("ok: 0 ledger entries")
