"""Agency ingestion into the ledger, on SQLite and PostgreSQL: the three file formats, row
validation (every bad row reported, nothing written), column and count checks, idempotent
resubmission, identity resolution with the review queue, and as-of reproduction through the
command line."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import xinyong.files as policy_files
from builders import Clock
from feedfiles import (
    COURTS,
    EMPTY,
    EVADES,
    OBSTRUCTS,
    P1,
    REFUSES,
    U1,
    court_row,
    sample_rows,
    sat_row,
    state,
    uscc,
    write_csv,
    write_feed,
    write_jsonl,
    write_parquet,
)
from xinyong import merkle
from xinyong.cli import app
from xinyong.files import load_policy
from xinyong.ids import make_uscc
from xinyong.ledger import tables as t
from xinyong.ledger.ingest import Ingest, IngestError, IngestReport
from xinyong.ledger.review import decide_review, open_reviews
from xinyong.ledger.store import Conflict, Ledger
from xinyong.policy.model import Policy

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 6, 1, 9)  # the ledger's clock: "today" is 1 June 2024
TOMORROW = date(2024, 6, 2)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url, clock=clock)
    yield led
    led.dispose()


def ingest(ledger: Ledger, policy: Policy, path: Path, agency: str = "courts") -> IngestReport:
    return Ingest(ledger, policy, agency, path).run()


def table(ledger: Ledger, tbl: Any, *order: Any) -> list[dict[str, Any]]:
    with ledger.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(tbl).order_by(*order))]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, policy: Policy) -> Callable[..., Any]:
    """Run the command line in-process. The shipped policy is loaded once per session instead
    of at every command (loading is tested in test_cli.py)."""
    monkeypatch.setattr(policy_files, "load_policy", lambda _path: policy)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    return run


# --- 1. each format -----------------------------------------------------------------------

# Worked out from the rows, the feed manifest and the catalog: an empty 法律依据 takes the
# category's first legal basis (spc-2013-17); an empty amount is no amount; the feed's one
# channel is judicial.
EXPECTED_RECORDS = {
    "R-1": {"subject": U1, "category": REFUSES, "agency": "courts", "act_date": date(2024, 1, 2),
            "effective": date(2024, 1, 10), "document_no": "(2024)京01执R-1号",
            "legal_basis": "spc-2013-17", "amounts": {"amount_owed": "150000"},
            "recorded_at": NOW, "channel": "judicial"},
    "R-2": {"subject": U1, "category": EVADES, "agency": "courts", "act_date": date(2024, 2, 1),
            "effective": date(2024, 2, 5), "document_no": "(2024)京01执R-2号",
            "legal_basis": "civil-procedure-law", "amounts": {}, "recorded_at": NOW,
            "channel": "judicial"},
    "R-3": {"subject": P1, "category": REFUSES, "agency": "courts", "act_date": date(2024, 3, 1),
            "effective": date(2024, 3, 4), "document_no": "(2024)京01执R-3号",
            "legal_basis": "spc-2013-17", "amounts": {"amount_owed": "2800"},
            "recorded_at": NOW, "channel": "judicial"},
}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_each_format_is_ingested(policy: Policy, ledger: Ledger, tmp_path: Path,
                                 suffix: str) -> None:
    path = write_feed(tmp_path / f"courts{suffix}", sample_rows())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = ingest(ledger, policy, path)

    assert (report.rows, report.written, report.already_recorded, report.new_subjects,
            report.queued_for_review, report.already_ingested) == (3, 3, 0, 2, 0, False)
    assert report.feed == "courts.dishonest-debtors"

    records = {r.pop("id"): r for r in table(ledger, t.records, t.records.c.id)}
    assert {k: {f: v for f, v in r.items() if f != "ingest"} for k, r in records.items()} == \
        EXPECTED_RECORDS
    assert {r["ingest"] for r in records.values()} == {report.ingest_id}

    # subjects are created from their identifiers; an empty region comes from the USCC
    subjects = {s["id"]: (s["kind"], s["name"], s["region"]) for s in table(ledger, t.subjects,
                                                                           t.subjects.c.id)}
    assert subjects == {U1: ("enterprise", "深圳某某科技有限公司", "440300"),
                        P1: ("person", "张三", "110105")}
    idents = {(i["scheme"], i["value"], i["subject"]) for i in table(ledger, t.identifiers,
                                                                       t.identifiers.c.value)}
    assert idents == {("cn-uscc", U1, U1), ("cn-ric", P1, P1)}

    # 2 subjects, 2 identifiers, 3 records: 7 ledger entries in that order, one checkpoint
    entries = table(ledger, t.ledger, t.ledger.c.seq)
    assert [(e["seq"], e["kind"]) for e in entries] == [
        (1, "subject"), (2, "subject"), (3, "identifier"), (4, "identifier"), (5, "record"),
        (6, "record"), (7, "record")]
    [cp] = table(ledger, t.checkpoints)
    assert cp["size"] == 7
    assert cp["root"] == merkle.root([bytes.fromhex(e["leaf_hash"]) for e in entries]).hex()
    assert cp["chain_hash"] == entries[-1]["chain_hash"]

    [ing] = table(ledger, t.ingests)
    assert (ing["id"], ing["agency"], ing["file_name"], ing["file_sha256"], ing["rows"],
            ing["written"]) == (report.ingest_id, "courts", path.name, digest, 3, 7)
    [audit] = table(ledger, t.audit_log)
    assert (audit["seq"], audit["actor"], audit["action"], audit["at"]) == (
        1, "agency:courts", "ingest", NOW)
    assert json.loads(audit["detail"]) == {
        "file": path.name, "sha256": digest, "rows": 3, "queued": 0,
        "written": {"subject": 2, "identifier": 2, "link": 0, "record": 3, "event": 0}}

    v = ledger.verify()
    assert (v.ok, v.entries, v.checkpoints, v.audit_entries) == (True, 7, 1, 1)


def test_ingest_verify_checkpoint_prove_through_the_cli(ledger_url: str, tmp_path: Path,
                                                         cli: Callable[..., Any]) -> None:
    path = write_csv(tmp_path / "courts.csv", sample_rows())
    r = cli("ingest", "--agency", "courts", "--database", ledger_url, str(path))
    assert r.exit_code == 0, r.output
    assert r.output.strip() == (
        f"{path}: 3 rows via feed courts.dishonest-debtors: 3 records written, 0 already "
        "recorded, 2 new subjects, 0 queued for review (no identifier: a person links them, "
        "`xinyong review list`)")
    r = cli("ingest", "--agency", "courts", "--database", ledger_url, str(path))
    assert (r.exit_code, r.output.strip()) == (
        0, f"{path}: already ingested (3 rows); nothing new written")
    r = cli("verify", "--database", ledger_url)
    assert (r.exit_code, r.output.strip()) == (
        0, "ok: 7 ledger entries, 1 checkpoints, 1 audit entries verified")
    r = cli("checkpoint", "--database", ledger_url)
    assert (r.exit_code, r.output.strip()) == (0, "no new entries since the last checkpoint")
    r = cli("prove", "R-1", "--database", ledger_url)
    assert r.exit_code == 0, r.output
    proof = json.loads(r.stdout)
    # seq 1-2 subjects, 3-4 identifiers, 5 R-1: leaf index 4 of the checkpoint of size 7
    assert (proof["leaf_index"], proof["tree_size"]) == (4, 7)
    (tmp_path / "proof.json").write_text(r.stdout, encoding="utf-8")
    r = cli("check-proof", str(tmp_path / "proof.json"))
    assert r.exit_code == 0 and "ok: record R-1 is entry 4 of the tree of size 7" in r.output


# --- 2. bad rows: every one reported, nothing written -------------------------------------

GOOD_USCC = uscc(42, "440300")


def _bad_checksum(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def bad_sat_rows(tomorrow: date = TOMORROW) -> list[dict[str, Any]]:
    """Ten tax decisions; rows S2-S9 each carry exactly one fault."""
    return [
        sat_row("S1", GOOD_USCC, evaded="50000", payable="80000"),
        sat_row("S2", _bad_checksum(GOOD_USCC)),                     # checksum
        sat_row("S3", GOOD_USCC, category="tax.imaginary"),           # not in the catalog
        sat_row("S4", GOOD_USCC, category=REFUSES),                   # a court's category
        sat_row("S5", GOOD_USCC, act="2024-05-01", effective=tomorrow.isoformat()),
        sat_row("S6", GOOD_USCC, doc=""),                             # no document number
        sat_row("S7", GOOD_USCC, evaded="-100"),                      # negative
        sat_row("S8", GOOD_USCC, payable="abc"),                      # not a number
        sat_row("S9", GOOD_USCC, category="tax.late_filing", evaded="10"),  # no such amount
        sat_row("S10", GOOD_USCC, category="tax.late_filing", effective="2024-04-01"),
    ]


def bad(tomorrow: date = TOMORROW) -> list[tuple[int, str, str]]:
    """(row index, field, part of the reason) of each bad row. Amounts are reported under the
    feed's column name, other fields under ours."""
    return [
        (1, "identifier", "check character"),
        (2, "category", "'tax.imaginary' is not a catalog category on 2024-03-15"),
        # the loader refuses a feed listing a category its agency is not competent for, so a
        # category of another agency is refused as one the feed may not submit
        (3, "category", "feed sat.tax-credit may not submit "
                        "'judicial.debtor.refuses_to_perform'"),
        (4, "effective", f"{tomorrow} is in the future"),
        (5, "document_no", "document number is required"),
        (6, "evaded", "'-100': amounts are finite and not negative"),
        (7, "payable", "'abc' is not a number"),
        (8, "evaded", "tax.late_filing has no amount 'tax_evaded'"),
    ]


@pytest.mark.parametrize(("suffix", "first_line"), [(".csv", 2), (".jsonl", 1),
                                                    (".parquet", 1)])
def test_every_bad_row_is_reported_and_nothing_is_written(
        policy: Policy, ledger: Ledger, tmp_path: Path, suffix: str, first_line: int) -> None:
    rows = bad_sat_rows()
    path = write_feed(tmp_path / f"sat{suffix}", rows)
    with pytest.raises(IngestError) as exc:
        ingest(ledger, policy, path, agency="sat")
    errors = exc.value.errors
    assert [(e.line, e.field, e.record) for e in errors] == [
        (first_line + i, fld, rows[i]["id"]) for i, fld, _ in bad()]
    assert "2024-06-02 is in the future" in errors[3].reason  # the ledger clock's tomorrow
    for e, (_, _, why) in zip(errors, bad(), strict=True):
        assert why in e.reason, (e, why)
    assert str(exc.value) == f"{path}: 8 bad row(s); nothing was written"
    assert state(ledger) == EMPTY


def test_the_cli_lists_every_bad_row_with_its_line(ledger_url: str, tmp_path: Path,
                                                    cli: Callable[..., Any]) -> None:
    tomorrow = date.today() + timedelta(days=1)  # the command line runs on the real clock
    path = write_csv(tmp_path / "sat.csv", bad_sat_rows(tomorrow))
    r = cli("ingest", "--agency", "sat", "--database", ledger_url, str(path))
    assert r.exit_code == 2
    assert f"{path}: 8 bad row(s); nothing was written" in r.output
    for i, fld, why in bad(tomorrow):
        assert f"line {i + 2} (record S{i + 1}), field {fld}: " in r.output
        assert why in r.output
    assert "line 2 " not in r.output and "line 11 " not in r.output  # S1 and S10 are good
    led = Ledger.open(ledger_url)
    assert state(led) == EMPTY
    led.dispose()


def test_the_cli_refusal_has_no_literal_markup(ledger_url: str, tmp_path: Path,
                                               cli: Callable[..., Any]) -> None:
    path = write_csv(tmp_path / "courts.csv", [], header=COURTS)
    r = cli("ingest", "--agency", "courts", "--database", ledger_url, str(path))
    assert r.exit_code == 2
    assert r.output.startswith(f"error: {path}: 0 rows"), r.output


SOCIAL_ORG = make_uscc("5", "1", "110101", "00000031")  # authority 5: civil affairs
SAMR = ("编号", "统一社会信用代码", "企业名称", "登记机关区划", "列入事由", "认定日期",
        "列入日期", "决定书文号", "依据")


def test_subject_and_date_faults_in_the_market_regulators_feed(policy: Policy, ledger: Ledger,
                                                               tmp_path: Path) -> None:
    rows = [
        ("M1", SOCIAL_ORG, "某某行业协会", "110101", "commercial.annual_report.missing",
         "2024-02-01", "2024-03-01", "京市监异〔2024〕1号", ""),  # the category is for firms
        ("M2", uscc(77), "", "110101", "commercial.annual_report.missing", "2024-02-01",
         "2024-03-01", "京市监异〔2024〕2号", ""),   # a new subject without a name
        ("M3", uscc(78), "某某商贸有限公司", "110101", "commercial.address.unreachable",
         "2024-03-05", "2024-03-01", "京市监异〔2024〕3号", ""),  # act after decision
        ("M4", uscc(79), "某某物流有限公司", "110101", "commercial.address.unreachable",
         "2024-02-01", "2024/03/01", "京市监异〔2024〕4号", ""),  # not ISO
    ]
    path = write_csv(tmp_path / "samr.csv", [dict(zip(SAMR, r, strict=True)) for r in rows])
    with pytest.raises(IngestError) as exc:
        ingest(ledger, policy, path, agency="samr")
    assert [(e.line, e.field, e.reason) for e in exc.value.errors] == [
        (2, "identifier", "commercial.annual_report.missing applies to enterprise, not to a "
                          "social_org"),
        (3, "subject_name", "a new subject needs a name"),
        (4, "act_date", "the act is dated after the decision took effect"),
        (5, "effective", "'2024/03/01' is not a date; write YYYY-MM-DD"),
    ]
    assert state(ledger) == EMPTY


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_line_numbers_count_blank_lines(policy: Policy, ledger: Ledger, tmp_path: Path,
                                        suffix: str) -> None:
    good = court_row("L-1", U1, "深圳某某科技有限公司", owed="100")
    bad = court_row("L-2", U1, "深圳某某科技有限公司", owed="-1")
    path = write_feed(tmp_path / f"blank{suffix}", [good, bad])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(len(lines) - 1, "")  # a blank line before the bad row
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad_line = len(lines)  # the last line of the file
    with pytest.raises(IngestError) as exc:
        ingest(ledger, policy, path)
    assert [(e.line, e.field) for e in exc.value.errors] == [(bad_line, "未履行金额")]


# --- 3. columns ---------------------------------------------------------------------------

MANIFEST = "the columns do not match the manifest; nothing was written"


@pytest.mark.parametrize(("change", "expected", "suffix"), [
    ({"add": "备注"}, ("备注", "column not in feed courts.dishonest-debtors's manifest; map it "
                             "or list it under 'ignore'"), ".csv"),
    ({"drop": "法律依据"}, ("法律依据", "column missing from the file"), ".parquet"),
    ({"add": "religion"}, ("religion", "column refers to religious belief, which may never be "
                                       "collected; remove it from the export"), ".csv"),
    ({"add": "health_status"}, ("health_status", "column refers to health data, which may "
                                                 "never be collected; remove it from the "
                                                 "export"), ".parquet"),
], ids=["unmapped", "missing", "religion", "health_status"])
def test_columns_must_match_the_manifest(policy: Policy, ledger: Ledger, tmp_path: Path,
                                         change: dict[str, str], expected: tuple[str, str],
                                         suffix: str) -> None:
    rows = [{k: str(v) for k, v in r.items()} for r in sample_rows()]
    for r in rows:
        if "add" in change:
            r[change["add"]] = "x"
        else:
            del r[change["drop"]]
    path = write_feed(tmp_path / f"courts{suffix}", rows)
    with pytest.raises(IngestError) as exc:
        ingest(ledger, policy, path)
    assert [(e.line, e.field, e.reason) for e in exc.value.errors] == [(1, *expected)]
    assert str(exc.value) == f"{path}: {MANIFEST}"
    assert state(ledger) == EMPTY


def test_an_ignored_column_may_be_left_out(policy: Policy, ledger: Ledger,
                                          tmp_path: Path) -> None:
    rows = sample_rows()
    for r in rows:
        del r["执行法院"]  # listed under 'ignore', not mapped
    report = ingest(ledger, policy, write_csv(tmp_path / "courts.csv", rows))
    assert report.written == 3


def test_a_forbidden_field_in_a_later_json_line_is_refused(policy: Policy, ledger: Ledger,
                                                           tmp_path: Path) -> None:
    rows = sample_rows()
    rows[2]["religion"] = "佛教"
    path = write_jsonl(tmp_path / "courts.jsonl", rows)
    with pytest.raises(IngestError) as exc:
        ingest(ledger, policy, path)
    assert [(e.field, e.reason) for e in exc.value.errors] == [
        ("religion", "column refers to religious belief, which may never be collected; remove "
                     "it from the export")]
    assert state(ledger) == EMPTY


# --- 4. count assertions ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bounded_policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """The shipped policies with the courts' feed bounded to 2-3 rows per file."""
    root = tmp_path_factory.mktemp("bounded") / "policies"
    shutil.copytree(ROOT / "policies", root)
    feeds = root / "feeds" / "feeds.toml"
    text = feeds.read_text(encoding="utf-8")
    courts = "min_rows = 1\nmax_rows = 2000000\neffective_from = 2014-11-01"
    assert text.count(courts) == 1
    feeds.write_text(text.replace(courts, "min_rows = 2\nmax_rows = 3\n"
                                          "effective_from = 2014-11-01"), encoding="utf-8")
    return load_policy(root)


def _court_rows(n: int) -> list[dict[str, Any]]:
    return [court_row(f"B-{i}", U1, "深圳某某科技有限公司") for i in range(1, n + 1)]


@pytest.mark.parametrize("n", [1, 4])
def test_a_file_outside_the_row_bounds_is_refused(bounded_policy: Policy, ledger: Ledger,
                                                  tmp_path: Path, n: int) -> None:
    path = write_csv(tmp_path / "courts.csv", _court_rows(n))
    with pytest.raises(IngestError, match=rf"{n} rows, but feed courts\.dishonest-debtors "
                                          r"expects 2–3: a broken export"):
        ingest(ledger, bounded_policy, path)
    assert state(ledger) == EMPTY


@pytest.mark.parametrize("n", [2, 3])
def test_a_file_within_the_row_bounds_is_ingested(bounded_policy: Policy, ledger: Ledger,
                                                  tmp_path: Path, n: int) -> None:
    report = ingest(ledger, bounded_policy, write_csv(tmp_path / "courts.csv", _court_rows(n)))
    assert (report.rows, report.written) == (n, n)


def test_a_header_only_file_is_refused(policy: Policy, ledger: Ledger, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "courts.csv", [], header=COURTS)
    with pytest.raises(IngestError, match=r"0 rows, but feed courts\.dishonest-debtors "
                                          r"expects 1–2000000"):
        ingest(ledger, policy, path)
    assert state(ledger) == EMPTY


# --- 5. idempotency -----------------------------------------------------------------------


def test_the_same_file_twice_is_already_ingested(policy: Policy, ledger: Ledger,
                                                 tmp_path: Path, clock: Clock) -> None:
    path = write_csv(tmp_path / "courts.csv", sample_rows())
    ingest(ledger, policy, path)
    before = state(ledger)
    clock.now = NOW + timedelta(days=1)
    again = ingest(ledger, policy, path)
    assert again.already_ingested and (again.written, again.rows) == (0, 3)
    # the same bytes under another name are the same file
    copy = tmp_path / "courts-copy.csv"
    copy.write_bytes(path.read_bytes())
    assert ingest(ledger, policy, copy).already_ingested
    assert state(ledger) == before
    assert ledger.verify().ok


def test_another_file_with_the_same_records_adds_nothing(policy: Policy, ledger: Ledger,
                                                         tmp_path: Path, clock: Clock) -> None:
    ingest(ledger, policy, write_csv(tmp_path / "courts.csv", sample_rows()))
    before = state(ledger)
    clock.now = NOW + timedelta(days=1)
    rows = list(reversed(sample_rows()))  # other order, other format: other bytes
    report = ingest(ledger, policy, write_jsonl(tmp_path / "courts.jsonl", rows))
    assert (report.already_ingested, report.written, report.already_recorded,
            report.new_subjects) == (False, 0, 3, 0)
    # nothing new in the ledger; the file itself is noted and audited
    assert state(ledger) == before | {"ingests": 2, "audit": 2}
    assert {r["id"]: r["recorded_at"] for r in table(ledger, t.records)} == {
        "R-1": NOW, "R-2": NOW, "R-3": NOW}
    assert ledger.verify().ok


def test_a_record_id_with_other_content_is_a_conflict(policy: Policy, ledger: Ledger,
                                                      tmp_path: Path) -> None:
    ingest(ledger, policy, write_csv(tmp_path / "courts.csv", sample_rows()))
    before = state(ledger)
    changed = sample_rows()[1] | {"未履行金额": "99"}
    new = court_row("R-4", uscc(5), "另一家公司", "110101")
    path = write_csv(tmp_path / "courts-2.csv", [changed, new])
    with pytest.raises(Conflict, match="record R-2 is already recorded with different content"):
        ingest(ledger, policy, path)
    assert state(ledger) == before  # not even the new record R-4 or its subject
    assert ledger.verify().ok


def test_the_same_amount_written_as_a_float_is_already_recorded(
        policy: Policy, ledger: Ledger, tmp_path: Path) -> None:
    ingest(ledger, policy, write_csv(tmp_path / "courts.csv", sample_rows()))
    before = state(ledger)
    rows = sample_rows()
    for r in rows:
        r["未履行金额"] = None if r["未履行金额"] is None else float(r["未履行金额"])
    report = ingest(ledger, policy, write_parquet(tmp_path / "courts.parquet", rows))
    assert (report.written, report.already_recorded) == (0, 3)
    assert state(ledger)["ledger"] == before["ledger"]


# --- 6. identity resolution ---------------------------------------------------------------

A = uscc(1, "110101")    # 北京甲乙科技有限公司 in 110101
A2 = uscc(2, "310101")   # the same name in Shanghai
B1 = uscc(3, "110105")   # two firms of one name in 110105
B2 = uscc(4, "110105")
JIA, BING = "北京甲乙科技有限公司", "北京丙丁贸易有限公司"


def _known_subjects(ledger: Ledger, policy: Policy, tmp_path: Path) -> None:
    rows = [court_row("K-A", A, JIA, "110101"), court_row("K-A2", A2, JIA, "310101"),
            court_row("K-B1", B1, BING, "110105"), court_row("K-B2", B2, BING, "110105")]
    report = ingest(ledger, policy, write_csv(tmp_path / "known.csv", rows))
    assert (report.written, report.new_subjects) == (4, 4)


def _nameless_rows() -> list[dict[str, Any]]:
    return [
        court_row("N-1", "", JIA, "110101", owed="5000"),          # one firm of that name there
        court_row("N-2", "", "北京甲乙科枝有限公司", "110101", owed="8000"),  # 技 → 枝
        court_row("N-3", "", BING, "110105"),                     # two firms of that name
        court_row("N-4", "", JIA, "320102"),                      # no one of that name there
    ]


def test_rows_without_identifier_are_never_linked_by_name(
        policy: Policy, ledger: Ledger, tmp_path: Path) -> None:
    """Identity is never guessed: even N-1, whose name and district match exactly one known
    firm, waits for a person. Candidates are ranked same district, same province, elsewhere,
    then by name similarity (rapidfuzz's Indel ratio, from 50)."""
    _known_subjects(ledger, policy, tmp_path)
    report = ingest(ledger, policy, write_csv(tmp_path / "nameless.csv", _nameless_rows()))
    assert (report.written, report.queued_for_review, report.new_subjects) == (0, 4, 0)
    records = {r["id"]: r["subject"] for r in table(ledger, t.records)}
    assert records == {"K-A": A, "K-A2": A2, "K-B1": B1, "K-B2": B2}
    queue = [(q.line, q.name, q.region, q.status) for q in open_reviews(ledger)]
    assert queue == [(2, JIA, "110101", "open"), (3, "北京甲乙科枝有限公司", "110101", "open"),
                     (4, BING, "110105", "open"), (5, JIA, "320102", "open")]
    cands = [[(c["subject"], c["score"]) for c in q.candidates] for q in open_reviews(ledger)]
    # 甲乙科技 vs 丙丁贸易 (ten characters each) share 北京 and 有限公司: Indel distance
    # 20 - 2×6 = 8, ratio 60.0; one substituted character of ten: 20 - 2×9 = 2, ratio 90.0
    assert cands == [
        [(A, 100.0), (B1, 60.0), (B2, 60.0), (A2, 100.0)],   # N-1 in 110101
        [(A, 90.0), (B1, 60.0), (B2, 60.0), (A2, 90.0)],     # N-2 in 110101
        [(B1, 100.0), (B2, 100.0), (A, 60.0), (A2, 60.0)],   # N-3 in 110105
        [(A, 100.0), (A2, 100.0), (B1, 60.0), (B2, 60.0)],   # N-4 in 320102: no one there
    ]
    first = open_reviews(ledger)[0].candidates[0]
    assert (first["name"], first["region"], first["why"]) == (
        JIA, "110101", "name 100% alike, same district")
    v = ledger.verify()
    assert v.ok and v.entries == 4 + 4 + 4


def test_a_reviewer_links_or_rejects_queued_rows(policy: Policy, ledger: Ledger, tmp_path: Path,
                                                 ledger_url: str,
                                                 cli: Callable[..., Any]) -> None:
    _known_subjects(ledger, policy, tmp_path)
    ingest(ledger, policy, write_csv(tmp_path / "nameless.csv", _nameless_rows()))
    exact, near, twins, elsewhere = (q.id for q in open_reviews(ledger))
    before = state(ledger)

    r = cli("review", "list", "--database", ledger_url)
    assert r.exit_code == 0
    assert (f"#{near} courts line 3: '北京甲乙科枝有限公司' in 110101; candidates: {A} "
            "北京甲乙科技有限公司 (name 90% alike, same district); ") in r.output
    assert "4 open item(s)" in r.output

    r = cli("review", "link", str(near), A, "--reviewer", "审核员王", "--database", ledger_url)
    assert (r.exit_code, r.output.strip()) == (
        0, f"item {near} linked to {A}: record N-2 written")
    [rec] = [x for x in table(ledger, t.records) if x["id"] == "N-2"]
    assert (rec["subject"], rec["category"], rec["agency"], rec["effective"],
            rec["document_no"], rec["legal_basis"], rec["amounts"]) == (
        A, REFUSES, "courts", date(2024, 1, 10), "(2024)京01执N-2号", "spc-2013-17",
        {"amount_owed": "8000"})
    after_link = state(ledger)
    assert after_link["record"] == before["record"] + 1
    assert after_link["ledger"] == before["ledger"] + 1

    r = cli("review", "reject", str(twins), "--reason", "同名企业两家，无法确认",
            "--reviewer", "审核员李", "--database", ledger_url)
    assert (r.exit_code, r.output.strip()) == (0, f"item {twins} rejected")
    assert state(ledger) == after_link | {"audit": after_link["audit"] + 1}

    audit = table(ledger, t.audit_log, t.audit_log.c.seq)[-2:]
    assert [(a["actor"], a["action"], a["subject"], json.loads(a["detail"])) for a in audit] == [
        ("审核员王", "review.link", A, {"item": near, "record": "N-2"}),
        ("审核员李", "review.reject", None, {"item": twins, "reason": "同名企业两家，无法确认"}),
    ]
    decided = {q["id"]: (q["status"], q["decided_by"], q["decision"])
               for q in table(ledger, t.review_queue)}
    assert decided == {
        near: ("linked", "审核员王", {"subject": A, "record": "N-2"}),
        twins: ("rejected", "审核员李", {"reason": "同名企业两家，无法确认"}),
        elsewhere: ("open", None, None),
        exact: ("open", None, None),
    }

    r = cli("review", "link", str(near), A, "--database", ledger_url)
    assert r.exit_code == 2 and f"review item {near} is already linked" in r.output
    r = cli("review", "link", str(elsewhere), "NOPE", "--database", ledger_url)
    assert r.exit_code == 2 and "no subject 'NOPE'" in r.output
    assert [q.id for q in open_reviews(ledger)] == [exact, elsewhere]
    assert ledger.verify().ok


def test_linking_a_row_with_a_thousands_separator(policy: Policy, ledger: Ledger,
                                                  tmp_path: Path) -> None:
    _known_subjects(ledger, policy, tmp_path)
    row = court_row("N-5", "", "北京甲乙科枝有限公司", "110101", owed="12,500")
    ingest(ledger, policy, write_csv(tmp_path / "n5.csv", [row]))
    [item] = open_reviews(ledger)
    decide_review(ledger, policy, item.id, "审核员王", A)
    [rec] = [x for x in table(ledger, t.records) if x["id"] == "N-5"]
    assert rec["amounts"] == {"amount_owed": "12500"}


# --- 7. as of, through the command line ---------------------------------------------------


def test_a_past_as_of_is_unchanged_by_a_later_ingest(policy: Policy, ledger_url: str,
                                                     tmp_path: Path,
                                                     cli: Callable[..., Any]) -> None:
    firm = uscc(7, "110101")
    # the first file was received on 15 January 2024
    early = Ledger.open(ledger_url, clock=Clock(datetime(2024, 1, 15, 9)))
    ingest(early, policy, write_csv(tmp_path / "jan.csv", [
        court_row("R-1", firm, "北京某某建设有限公司", "110101", effective="2024-01-10")]))
    early.dispose()

    def evaluate(*extra: str) -> dict[str, Any]:
        r = cli("evaluate", firm, "--database", ledger_url, "--as-of", "2024-03-10", "--json",
                *extra)
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    before = evaluate()
    # one month of grace from 10 January (Fa Fa (2019) No. 35): listed from 10 February
    assert [(e["rule"], e["status"], e["start"], [x["id"] for x in e["records"]])
            for e in before["list_entries"] if e["list"] == "spc.dishonest_debtors"] == [
        ("spc.dishonest_debtors.refusal", "active", "2024-02-10", ["R-1"])]

    # a second file, received now (the real clock), reports an act that took effect on
    # 1 February 2024: in force on 10 March, but not known then
    late = write_csv(tmp_path / "late.csv", [
        court_row("R-2", firm, "北京某某建设有限公司", "110101", category=OBSTRUCTS,
                  act="2024-01-20", effective="2024-02-01")])
    r = cli("ingest", "--agency", "courts", "--database", ledger_url, str(late))
    assert r.exit_code == 0 and "1 records written" in r.output

    assert evaluate() == before
    known_now = (datetime.now() + timedelta(minutes=5)).isoformat(timespec="minutes")
    now = evaluate("--known-at", known_now)
    assert sorted(x["id"] for e in now["list_entries"] for x in e["records"]) == ["R-1", "R-2"]
    led = Ledger.open(ledger_url)
    assert led.verify().ok
    assert [a["action"] for a in table(led, t.audit_log, t.audit_log.c.seq)] == [
        "ingest", "evaluate", "ingest", "evaluate", "evaluate"]
    led.dispose()


# --- 7. the two CSV roads ------------------------------------------------------------------

def test_quoted_and_unquoted_csv_give_the_same_report(policy: Policy, ledger: Ledger,
                                                     tmp_path: Path) -> None:
    """A CSV without quote characters is read by Arrow; one with a quoted value (here a name
    with a comma and a line break) by Python's strict reader. Both report the same rows, and the
    quoted file's line numbers count the line inside the quotes."""
    rows = bad_sat_rows()
    plain = write_feed(tmp_path / "plain.csv", rows)
    assert b'"' not in plain.read_bytes()
    quoted_rows = [dict(r) for r in rows]
    quoted_rows[0]["taxpayer"] = "深圳某某,贸易\n有限公司"  # row S1 spans lines 2–3
    quoted = write_feed(tmp_path / "quoted.csv", quoted_rows)
    assert b'"' in quoted.read_bytes()
    reports = []
    for path in (plain, quoted):
        with pytest.raises(IngestError) as exc:
            ingest(ledger, policy, path, agency="sat")
        reports.append(exc.value.errors)
    assert [(e.line, e.field, e.reason, e.record) for e in reports[0]] == [
        (2 + i, fld, e.reason, rows[i]["id"]) for (i, fld, _), e in zip(bad(), reports[0],
                                                                          strict=True)]
    # the same faults, each one line further down in the quoted file
    assert [(e.line - 1, e.field, e.reason, e.record) for e in reports[1]] == [
        (e.line, e.field, e.reason, e.record) for e in reports[0]]
    assert state(ledger) == EMPTY


def test_a_repeated_record_id_names_the_line_it_repeats(policy: Policy, ledger: Ledger,
                                                        tmp_path: Path) -> None:
    rows = [court_row("D-1", U1, "深圳某某科技有限公司"), court_row("D-2", P1, "张三"),
            court_row("D-1", P1, "张三", doc="(2024)京01执D-9号")]
    path = write_feed(tmp_path / "dup.csv", rows)
    with pytest.raises(IngestError) as exc:
        ingest(ledger, policy, path)
    assert [(e.line, e.field, e.reason) for e in exc.value.errors] == [
        (4, "record_id", "repeats line 2")]
    assert state(ledger) == EMPTY


def test_a_row_with_neither_identifier_nor_name_is_refused(policy: Policy, ledger: Ledger,
                                                          tmp_path: Path) -> None:
    rows = [court_row("N-1", U1, "深圳某某科技有限公司"), court_row("N-2", "", "")]
    path = write_feed(tmp_path / "anon.jsonl", rows)
    with pytest.raises(IngestError) as exc:
        ingest(ledger, policy, path)
    assert [(e.line, e.field, e.reason) for e in exc.value.errors] == [
        (2, "identifier", "no identifier and no name to match on")]
    assert state(ledger) == EMPTY


def test_a_row_without_identifier_waits_even_for_a_subject_new_in_the_same_file(
        policy: Policy, ledger: Ledger, tmp_path: Path) -> None:
    """The firm is introduced by row M-1 (region from its code: 440300). M-2 names it exactly
    and M-3 by a shorter name: both wait for a person, with the firm as first candidate
    (M-3: 深圳某某科技公司 vs 深圳某某科技有限公司 share 8 characters, Indel 18 - 16 = 2,
    ratio 1 - 2/18 = 88.9)."""
    rows = [court_row("M-1", U1, "深圳某某科技有限公司"),
            court_row("M-2", "", "深圳某某科技有限公司", "440300"),
            court_row("M-3", "", "深圳某某科技公司", "440300")]
    report = ingest(ledger, policy, write_feed(tmp_path / "same.csv", rows))
    assert (report.written, report.queued_for_review) == (1, 2)
    items = table(ledger, t.review_queue, t.review_queue.c.id)
    assert [(i["line"], i["candidates"][0]["subject"], i["candidates"][0]["score"])
            for i in items] == [(3, U1, 100.0), (4, U1, 88.9)]


def test_a_linked_row_is_checked_as_an_ingested_row_is(policy: Policy, ledger: Ledger,
                                                       tmp_path: Path) -> None:
    """A tax row without an identifier waits for a person; linked to a person, it is refused
    as a file row would be (the tax categories apply to enterprises only), and nothing is
    written: no record, no resolution, no audit entry; the item stays open."""
    ingest(ledger, policy, write_csv(tmp_path / "p1.csv", [court_row("R-P", P1, "张三")]))
    ingest(ledger, policy, write_csv(tmp_path / "sat.csv", [sat_row("S-9", "")]), "sat")
    [item] = open_reviews(ledger)
    before = state(ledger)
    with pytest.raises(IngestError) as e:
        decide_review(ledger, policy, item.id, "审核员王", P1)
    assert [(r.line, r.record, r.field, r.reason) for r in e.value.errors] == [
        (2, "S-9", "identifier", "tax.evasion applies to enterprise, not to a person")]
    assert state(ledger) == before
    assert [q.id for q in open_reviews(ledger)] == [item.id]


def test_rows_in_our_own_field_names_are_checked_and_written_as_a_file_is(
        policy: Policy, ledger: Ledger) -> None:
    """The HTTP service's road in: rows keyed by our field names, not the feed's columns.
    Fields the feed does not have, then bad values, are reported row by row (row number as
    the line), nothing written; good rows are written as from a file."""
    ing = Ingest(ledger, policy, "courts", Path("api-batch"))
    good = {"record_id": "H-1", "identifier": U1, "subject_name": "深圳某某科技有限公司",
            "category": REFUSES, "effective": "2024-01-10", "document_no": "(2024)京01执H1号",
            "amount.amount_owed": "5000"}
    with pytest.raises(IngestError) as e:
        ing.ingest_rows([good, good | {"amount.fine": "1"}, good | {"religion": "x"}],
                        "d1", "k1")
    assert [(r.line, r.field, r.reason) for r in e.value.errors] == [
        (2, "amount.fine", "feed courts.dishonest-debtors has no amount 'fine'"),
        (3, "religion", "not a field of feed courts.dishonest-debtors")]
    with pytest.raises(IngestError) as e:
        ing.ingest_rows([good, good | {"record_id": "H-2", "effective": "2099-01-01"},
                         good | {"record_id": "H-3", "channel": "inspection"}], "d2", "k2")
    assert [(r.line, r.record, r.field, r.reason) for r in e.value.errors] == [
        (2, "H-2", "effective", "2099-01-01 is in the future"),
        (3, "H-3", "channel", "feed courts.dishonest-debtors does not declare channel "
         "'inspection': its rows come through judicial")]
    assert state(ledger) == EMPTY
    report = ing.ingest_rows([good, good | {"record_id": "H-2", "channel": "judicial"}],
                             "d3", "k3")
    assert (report.rows, report.written, report.new_subjects) == (2, 2, 1)
    stored = {r["id"]: (r["subject"], r["amounts"], r["channel"], r["legal_basis"])
              for r in table(ledger, t.records)}
    assert stored == {"H-1": (U1, {"amount_owed": "5000"}, "judicial", "spc-2013-17"),
                      "H-2": (U1, {"amount_owed": "5000"}, "judicial", "spc-2013-17")}


def test_a_link_or_a_rejection_is_one_transaction(policy: Policy, ledger: Ledger,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The record, the item's resolution and the reviewer's audit entry commit together: one
    write transaction, and no audit entry queued for a transaction of its own."""
    _known_subjects(ledger, policy, tmp_path)
    ingest(ledger, policy, write_csv(tmp_path / "nameless.csv", _nameless_rows()))
    first, second, *_ = (q.id for q in open_reviews(ledger))
    opened: list[int] = []
    writing = ledger._writing

    def counted() -> Any:
        opened.append(1)
        return writing()

    def queued(*_: Any) -> Any:
        raise AssertionError("an audit entry queued outside the transaction")

    monkeypatch.setattr(ledger, "_writing", counted)
    monkeypatch.setattr(ledger, "audit_later", queued)
    decide_review(ledger, policy, first, "审核员王", A)
    decide_review(ledger, policy, second, "审核员李", None, "不是这家")
    assert len(opened) == 2
    assert [(q["status"], q["decided_by"])
            for q in table(ledger, t.review_queue, t.review_queue.c.id)][:2] == [
        ("linked", "审核员王"), ("rejected", "审核员李")]
