"""Faults around the ledger, on SQLite and PostgreSQL: a read-only database, a full disk,
malformed files, two processes ingesting at once and a process killed in the middle of an
ingest. After each, the store is exactly as before the failed file and verifies."""

from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, event, select, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

import xinyong.files as policy_files
from builders import Clock
from feedfiles import (
    COURTS,
    U1,
    court_row,
    sample_rows,
    state,
    uscc,
    write_csv,
    write_jsonl,
    write_parquet,
)
from xinyong.cli import app
from xinyong.ledger import tables as t
from xinyong.ledger.ingest import Ingest, IngestError, IngestReport
from xinyong.ledger.store import MIGRATIONS, Ledger, LedgerError
from xinyong.policy.model import Policy

ROOT = Path(__file__).resolve().parents[1]
POLICIES = str(ROOT / "policies")
XINYONG = Path(sys.executable).with_name("xinyong")  # the console script of this venv
NOW = datetime(2024, 6, 1, 9)


def ingest(ledger: Ledger, policy: Policy, path: Path) -> IngestReport:
    return Ingest(ledger, policy, "courts", path).run()


def seed(url: str, policy: Policy, tmp_path: Path) -> dict[str, int]:
    """The store before the faulty file: three records of two subjects (7 ledger entries)."""
    led = Ledger.open(url, clock=Clock(NOW))
    ingest(led, policy, write_csv(tmp_path / "seed.csv", sample_rows()))
    before = state(led)
    led.dispose()
    assert before["ledger"] == 7 and before["audit"] == 1
    return before


def unchanged(url: str, before: dict[str, int]) -> Ledger:
    """Assert the store is exactly as ``before`` and verifies; return it open."""
    led = Ledger.open(url, clock=Clock(NOW + timedelta(days=1)))
    assert state(led) == before
    v = led.verify()
    assert v.ok, v.problem
    assert (v.entries, v.audit_entries) == (before["ledger"], before["audit"])
    return led


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


@contextmanager
def pg_admin() -> Iterator[Connection]:
    engine = create_engine(os.environ["XINYONG_TEST_PG_URL"], isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            yield c
    finally:
        engine.dispose()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, policy: Policy) -> Callable[..., Any]:
    """The command line in-process, with the session's policy (loading is tested elsewhere)."""
    monkeypatch.setattr(policy_files, "load_policy", lambda _path: policy)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)


def _court_file(path: Path, n: int, prefix: str, firms: range) -> Path:
    """n court records over the given firms (uscc numbers); one firm's name is the same in
    every file."""
    ids = {k: uscc(k) for k in firms}
    return write_csv(path, [
        court_row(f"{prefix}-{i}", ids[firms[i % len(firms)]], f"公司{firms[i % len(firms)]}",
                  "110101", owed=str(i + 1)) for i in range(n)])


# --- a read-only database -------------------------------------------------------------------


def test_a_read_only_database_refuses_the_ingest(policy: Policy, ledger_url: str,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 cli: Callable[..., Any]) -> None:
    before = seed(ledger_url, policy, tmp_path)
    more = write_csv(tmp_path / "more.csv", [court_row("R-9", uscc(9), "某某公司", "110101")])
    url, restore = ledger_url, lambda: None
    expected = "the database is read-only; nothing was written"
    if is_sqlite(ledger_url):
        db = sqlite_file(ledger_url)
        if os.geteuid() == 0:
            # root writes through permission bits: open read-only with an SQLite URI instead
            # (in tmp_path as working directory: see test_a_sqlite_uri_leaves_no_stray_folder)
            url = f"sqlite:///file:{db}?mode=ro&uri=true"
            monkeypatch.chdir(tmp_path)
        else:
            os.chmod(db, 0o444)
            os.chmod(db.parent, 0o555)
            # without write access to the folder SQLite may not open the WAL file at all
            expected += "|cannot open the database file"

            def restore() -> None:
                os.chmod(db.parent, 0o755)
                os.chmod(db, 0o644)
    else:
        name = ledger_url.rsplit("/", 1)[1]
        with pg_admin() as c:
            c.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))

        def restore() -> None:
            with pg_admin() as c:
                c.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))

    try:
        led = Ledger.open(url, clock=Clock(NOW))
        with pytest.raises(LedgerError, match=expected):
            ingest(led, policy, more)
        led.dispose()
        r = cli("ingest", "--agency", "courts", "--database", url, str(more))
        assert r.exit_code == 2
        assert re.match(f"error: ({expected})", r.output), r.output
    finally:
        restore()
    unchanged(ledger_url, before).dispose()


def test_a_sqlite_uri_leaves_no_stray_folder(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite only: URI filenames are SQLite's."""
    db = tmp_path / "ledger.db"
    Ledger.open(f"sqlite:///{db}").dispose()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    Ledger.open(f"sqlite:///file:{db}?mode=ro&uri=true").dispose()
    assert sorted(p.name for p in work.iterdir()) == []


# --- a full disk ----------------------------------------------------------------------------


def test_a_full_disk_refuses_the_ingest_and_writes_nothing(policy: Policy,
                                                          tmp_path: Path) -> None:
    """SQLite only: the disk fills through PRAGMA max_page_count on every connection.
    PostgreSQL has no per-session size limit, and a small filesystem for its tablespace needs
    mount privileges the test suite does not have."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    before = seed(url, policy, tmp_path)
    led = Ledger.open(url, clock=Clock(NOW + timedelta(days=1)))
    with led.engine.connect() as c:
        pages = c.exec_driver_sql("PRAGMA page_count").scalar_one()

    @event.listens_for(led.engine, "connect")
    def _small_disk(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 8}")  # 32 KiB to spare

    led.engine.dispose()  # only new connections get the limit
    big = _court_file(tmp_path / "big.csv", 3000, "F", range(100, 150))
    with pytest.raises(LedgerError,
                       match=r"^the disk or database is full; nothing was written"):
        ingest(led, policy, big)
    led.dispose()

    free = unchanged(url, before)
    report = ingest(free, policy, big)  # space freed: the same file now goes in whole
    assert (report.already_ingested, report.written, report.new_subjects) == (False, 3000, 50)
    assert free.verify().ok
    free.dispose()


def test_a_fault_after_the_records_are_written_leaves_nothing(
        policy: Policy, ledger_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = seed(ledger_url, policy, tmp_path)
    led = Ledger.open(ledger_url, clock=Clock(NOW + timedelta(days=1)))

    def disk_full(*_args: Any, **_kw: Any) -> None:
        raise OperationalError("INSERT INTO audit_log", {},
                               sqlite3.OperationalError("database or disk is full"))

    # the audit entry is written in the ingest's own transaction, after the records
    monkeypatch.setattr(Ledger, "_audit", disk_full)
    more = _court_file(tmp_path / "more.csv", 5, "M", range(200, 205))
    try:
        with pytest.raises(Exception) as exc:  # which one is asserted below
            ingest(led, policy, more)
    finally:
        monkeypatch.undo()
        led.dispose()
    unchanged(ledger_url, before).dispose()
    assert isinstance(exc.value, LedgerError) and "full" in str(exc.value), repr(exc.value)


# --- malformed files ------------------------------------------------------------------------


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    import csv

    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COURTS)
    for r in rows:
        w.writerow(["" if r[c] is None else str(r[c]) for c in COURTS])
    return buf.getvalue()


def _good_csv() -> str:
    return _csv_text([court_row("X-1", U1, "深圳某某科技有限公司", owed="10"),
                      court_row("X-2", U1, "深圳某某科技有限公司", owed="20")])


def _jsonl_lines(tmp: Path) -> list[str]:
    write_jsonl(tmp, [court_row("X-1", U1, "深圳某某科技有限公司"),
                      court_row("X-2", U1, "深圳某某科技有限公司")])
    return tmp.read_text(encoding="utf-8").splitlines()


def _parquet_bytes(tmp: Path) -> bytes:
    write_parquet(tmp, [court_row("X-1", U1, "深圳某某科技有限公司")])
    return tmp.read_bytes()


def malformed(kind: str, tmp: Path) -> tuple[str, bytes]:
    """(suffix, content) of each kind of malformed file."""
    good = _good_csv().splitlines()
    if kind == "csv-columns":  # line 3 has one field too many
        return ".csv", "\n".join([*good[:2], good[2] + ",多余", ""]).encode()
    if kind == "csv-quote":  # line 3: text after a closing quote
        quoted = good[2].replace("深圳某某科技有限公司", '"深圳某某"科技有限公司')
        return ".csv", "\n".join([*good[:2], quoted, ""]).encode()
    if kind == "csv-gbk":  # a GBK export (common for Chinese agencies): not UTF-8
        return ".csv", _good_csv().encode("gbk")
    if kind == "csv-empty":
        return ".csv", b""
    if kind == "jsonl-truncated":  # the second line is cut off mid-string
        lines = _jsonl_lines(tmp.with_suffix(".jsonl"))
        return ".jsonl", (lines[0] + "\n" + lines[1][:40]).encode()
    if kind == "jsonl-array":
        lines = _jsonl_lines(tmp.with_suffix(".jsonl"))
        return ".jsonl", (lines[0] + '\n["X-2"]\n').encode()
    if kind == "parquet-csv":  # a CSV file named .parquet
        return ".parquet", _good_csv().encode()
    if kind == "parquet-truncated":
        data = _parquet_bytes(tmp.with_suffix(".parquet"))
        return ".parquet", data[: len(data) // 2]
    if kind == "xlsx":
        return ".xlsx", b"PK\x03\x04"
    raise AssertionError(kind)


# (kind, the refusal's headline after "FILE: ", the rows named with line and field)
MALFORMED = [
    ("csv-columns", "malformed CSV", [(3, "*", "wrong number of columns")]),
    pytest.param("csv-quote", "malformed CSV", [(3, "*", None)]),
    ("csv-gbk", "not UTF-8 text (byte 0)", []),
    ("csv-empty", "empty file: no header row", []),
    ("jsonl-truncated", "malformed JSON Lines", [(2, "*", "not JSON: Unterminated string")]),
    ("jsonl-array", "malformed JSON Lines", [(2, "*", "not a JSON object")]),
    ("parquet-csv", "cannot be read: ", []),
    ("parquet-truncated", "cannot be read: ", []),
    ("xlsx", "unknown file type '.xlsx'; use .csv, .jsonl or .parquet", []),
]


@pytest.mark.parametrize(("kind", "headline", "rows"), MALFORMED)
def test_a_malformed_file_is_refused_and_nothing_is_written(
        policy: Policy, ledger_url: str, tmp_path: Path, kind: str, headline: str,
        rows: list[tuple[int, str, str | None]]) -> None:
    before = seed(ledger_url, policy, tmp_path)
    suffix, content = malformed(kind, tmp_path / "scratch")
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    led = Ledger.open(ledger_url, clock=Clock(NOW + timedelta(days=1)))
    with pytest.raises(IngestError) as exc:
        ingest(led, policy, path)
    led.dispose()
    assert str(exc.value).startswith(f"{path}: {headline}"), str(exc.value)
    assert [(e.line, e.field) for e in exc.value.errors] == [(ln, f) for ln, f, _ in rows]
    for e, (_, _, why) in zip(exc.value.errors, rows, strict=True):
        assert why is None or e.reason.startswith(why), e.reason
    unchanged(ledger_url, before).dispose()


def test_the_first_non_utf8_byte_is_named_by_its_offset_in_the_file(
        policy: Policy, ledger_url: str, tmp_path: Path) -> None:
    head = _csv_text([court_row(f"G-{i}", U1, "Shenzhen Co") for i in range(200)]).encode()
    assert len(head) > 16384  # past the text reader's first two 8 KiB chunks
    gbk_row = _csv_text([court_row("G-X", U1, "深圳某某科技有限公司")]).splitlines()[1]
    path = tmp_path / "mixed.csv"
    path.write_bytes(head + gbk_row.encode("gbk") + b"\n")
    led = Ledger.open(ledger_url, clock=Clock(NOW))
    with pytest.raises(IngestError) as exc:
        ingest(led, policy, path)
    led.dispose()
    # the first GBK byte follows "G-X," the 18-character code and a comma
    offset = len(head) + len(f"G-X,{U1},")
    assert f"not UTF-8 text (byte {offset})" in str(exc.value)


# --- two processes at once ------------------------------------------------------------------


def _spawn(url: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(XINYONG), "ingest", "--agency", "courts", "--database", url, "--policies",
         POLICIES, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_ingesting_at_once_lose_and_duplicate_nothing(
        policy: Policy, ledger_url: str, tmp_path: Path) -> None:
    Ledger.open(ledger_url).dispose()  # the store exists (see the next test for a new one)
    # firms 100-199 appear in both files: both processes see them as new subjects
    a = _court_file(tmp_path / "a.csv", 1500, "A", range(0, 200))
    b = _court_file(tmp_path / "b.csv", 1500, "B", range(100, 300))
    procs = [_spawn(ledger_url, a), _spawn(ledger_url, b)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert ": 1500 rows via feed courts.dishonest-debtors: 1500 records written, 0 already " \
            "recorded, " in out

    led = Ledger.open(ledger_url)
    # 300 firms (each once, with its identifier) and 3000 records
    counts = state(led)
    assert counts.pop("checkpoints") in (1, 2)  # the first may have been overtaken
    assert counts == {"subject": 300, "identifier": 300, "link": 0, "record": 3000, "event": 0,
                      "ledger": 3600, "ingests": 2, "audit": 2, "review": 0}
    with led.engine.connect() as c:
        seqs = list(c.execute(select(t.ledger.c.seq).order_by(t.ledger.c.seq)).scalars())
        audit = list(c.execute(select(t.audit_log.c.seq).order_by(t.audit_log.c.seq)).scalars())
        ids = set(c.execute(select(t.records.c.id)).scalars())
        last_cp = c.execute(select(t.checkpoints.c.size).order_by(
            t.checkpoints.c.size.desc()).limit(1)).scalar_one()
    assert seqs == list(range(1, 3601)) and audit == [1, 2]
    assert ids == {f"A-{i}" for i in range(1500)} | {f"B-{i}" for i in range(1500)}
    assert last_cp == 3600
    v = led.verify()
    assert v.ok and v.entries == 3600
    led.dispose()


def test_two_processes_creating_a_new_store_at_once(policy: Policy, ledger_url: str,
                                                    tmp_path: Path) -> None:
    """This process creates the store (the migration Ledger.open runs, held open a moment);
    meanwhile another process ingests into the same, still empty, store."""
    from alembic import command
    from alembic.config import Config

    path = _court_file(tmp_path / "a.csv", 3, "A", range(3))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import xinyong.files as files\n"
        "from xinyong.cli import app\n"
        "policy = files.load_policy(Path(sys.argv[1]))\n"
        "files.load_policy = lambda _p: policy\n"
        "print('ready', flush=True)\n"
        "app(sys.argv[2:])\n")
    led = Ledger.open(ledger_url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    other = None
    try:
        with led.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")  # the tables exist in this uncommitted transaction
            other = subprocess.Popen(
                [sys.executable, "-c", script, POLICIES, "ingest", "--agency", "courts",
                 "--database", ledger_url, str(path)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert other.stdout is not None
            assert other.stdout.readline().strip() == "ready"
            time.sleep(0.7)  # it opens the store and waits on this transaction's lock
        out, err = other.communicate(timeout=60)
    finally:
        if other is not None and other.poll() is None:
            other.kill()
        led.dispose()
    assert other.returncode == 0, err
    assert "3 records written" in out
    led = Ledger.open(ledger_url)
    assert led.counts()["record"] == 3 and led.verify().ok
    led.dispose()


# --- a process killed in the middle of an ingest -------------------------------------------

BIG = 100_000


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _court_file(tmp_path_factory.mktemp("big") / "big.csv", BIG, "K", range(1000, 1500))


def _writer_holds_the_lock(url: str) -> bool:
    """Has the ingest begun its write transaction (taken the ledger's write lock)?"""
    if is_sqlite(url):
        probe = sqlite3.connect(sqlite_file(url), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as e:
            assert "locked" in str(e)
            return True
        finally:
            probe.close()
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return bool(c.execute(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation "
                "WHERE r.relname = 'ledger' AND l.mode = 'ShareRowExclusiveLock' "
                "AND l.granted")).scalar_one())
    finally:
        engine.dispose()


def _wait(cond: Callable[[], bool], proc: subprocess.Popen[str], what: str,
          timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"the ingest ended (exit {proc.returncode}) before {what}: "
                        f"{proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


def test_a_process_killed_mid_ingest_leaves_the_store_as_before(
        policy: Policy, ledger_url: str, tmp_path: Path, big_file: Path) -> None:
    before = seed(ledger_url, policy, tmp_path)
    proc = _spawn(ledger_url, big_file)
    try:
        _wait(lambda: _writer_holds_the_lock(ledger_url), proc, "it began writing")
        if is_sqlite(ledger_url):
            # uncommitted pages of the big transaction are spilling into the WAL on disk
            wal = Path(f"{sqlite_file(ledger_url)}-wal")
            start = wal.stat().st_size if wal.exists() else 0
            _wait(lambda: wal.exists() and wal.stat().st_size > start + (4 << 20), proc,
                  "4 MiB of the transaction reached the WAL")
        else:
            time.sleep(0.5)  # inserting
        assert proc.poll() is None, "the ingest finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        # the output pipes close only when no helper process of the ingest is left alive
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    led = unchanged(ledger_url, before)
    # the store takes the next file as usual
    report = ingest(led, policy, _court_file(tmp_path / "next.csv", 10, "N", range(9000, 9010)))
    assert report.written == 10
    v = led.verify()
    assert v.ok and v.entries == before["ledger"] + 10 + 10 + 10
    led.dispose()
