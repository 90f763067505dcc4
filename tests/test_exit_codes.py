"""Exit codes and answers a script can trust (issue 10, item 4): each decision effect has its
own code, nothing that waits for a person exits 0, a busy port or store is refused with exit
2 before anything is touched, and an identifier's scheme is told by its structure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xinyong.cli import EFFECT_EXIT, app
from xinyong.ids import InvalidIdentifier, identify, readings
from xinyong.ledger.holders import StoreBusy, StoreHold
from xinyong.model import Effect

ROOT = Path(__file__).resolve().parents[1]
POLICIES = str(ROOT / "policies")
runner = CliRunner()

# GB 32100-2015: the code's alphabet (no I, O, S, V, Z), character weights 3^i mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check(body: str) -> str:
    """The check character of a 17-character USCC body, by the standard's formula."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def ric_check(body: str) -> str:
    """The check character of a 17-digit resident identity number body (GB 11643, ISO 7064)."""
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(body))
    return "10X98765432"[total % 11]


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


# --- decide -----------------------------------------------------------------------------


def test_every_effect_has_its_own_code_and_only_allow_is_zero() -> None:
    assert EFFECT_EXIT == {Effect.ALLOW: 0, Effect.DENY: 1, Effect.CONDITIONS: 3,
                           Effect.REVIEW: 4}
    assert set(EFFECT_EXIT) == {e.value for e in Effect}  # no effect falls back to a default


def test_help_documents_the_codes() -> None:
    top = run("--help").output
    decide = run("decide", "--help").output
    for text in (top, decide):
        assert "4" in text and "review" in text
    assert "3 allow with conditions" in " ".join(decide.split())
    assert "4 refer to a reviewer" in " ".join(decide.split())


def test_readme_has_the_exit_code_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for row in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |"):
        assert row in readme
    assert "refer_to_reviewer" in readme


def test_a_decision_waiting_for_a_reviewer_exits_4(tmp_path: Path) -> None:
    db = ("--database", f"sqlite:///{tmp_path}/ledger.db")
    pol = ("--policies", POLICIES)
    r = run("ingest", str(ROOT / "examples" / "debtors.csv"), "--agency", "courts", *db, *pol)
    assert r.exit_code == 4 and "1 queued for review" in r.output  # R125 has no identifier
    # the air-ticket ban is significant: nobody has confirmed it yet, so a person decides
    r = run("decide", "110105198001010075", "transport.air.ticket", *db, *pol)
    assert "REFER_TO_REVIEWER" in r.output and r.exit_code == 4


# --- --version ----------------------------------------------------------------------------


def test_version() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    r = run("--version")
    assert r.exit_code == 0 and r.output.strip() == f"xinyong {meta['project']['version']}"


# --- a busy port, a busy store ----------------------------------------------------------


def test_serve_on_a_taken_port_exits_2_with_a_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = runner.invoke(app, ["serve", "--port", str(port), "--database",
                                f"sqlite:///{tmp_path}/ledger.db", "--policies", POLICIES])
    assert r.exit_code == 2
    assert f"port {port} on 127.0.0.1 is in use" in r.output and "--port" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_refuses_a_store_another_process_serves(tmp_path: Path) -> None:
    store = tmp_path / "ledger.db"
    url = f"sqlite:///{store}"
    made = runner.invoke(app, ["demo", "--no-serve", "--persons", "60", "--enterprises", "15",
                               "--database", url, "--policies", POLICIES])
    assert made.exit_code == 0, made.output
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    server = subprocess.Popen(
        [sys.executable, "-c", "from xinyong.cli import app; app()", "serve", "--port",
         str(port), "--database", url, "--policies", POLICIES, "--tick-every", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # serving once the port answers
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        before = (store.stat().st_ino, store.stat().st_size)
        r = runner.invoke(app, ["demo", "--no-serve", "--persons", "60", "--enterprises", "15",
                                "--database", url, "--policies", POLICIES])
        assert r.exit_code == 2
        assert "in use by another process" in r.output and "--database" in r.output
        assert (store.stat().st_ino, store.stat().st_size) == before  # not deleted, not written
    finally:
        server.terminate()
        server.wait(timeout=30)
    # once the server is gone the store is the demo's again
    again = runner.invoke(app, ["demo", "--no-serve", "--persons", "60", "--enterprises", "15",
                                "--database", url, "--policies", POLICIES])
    assert again.exit_code == 0, again.output


def test_holds_share_but_recreating_needs_the_store_alone(tmp_path: Path) -> None:
    store = tmp_path / "x.db"
    with (StoreHold(store, exclusive=False), StoreHold(store, exclusive=False),
          pytest.raises(StoreBusy, match="in use by another process")):
        StoreHold(store, exclusive=True)
    with StoreHold(store, exclusive=True), pytest.raises(StoreBusy):
        StoreHold(store, exclusive=False)
    StoreHold(store, exclusive=True).release()  # all released: free again


# --- an identifier's scheme, by structure -------------------------------------------------


def test_an_all_digit_uscc_is_not_taken_for_a_resident_id() -> None:
    # 9 (market regulation) 1 (enterprise) 440300 (Shenzhen) 12345678-8 (organisation code,
    # GB 11714 check 8) and a check character: not a resident ID, whose first two digits are
    # a province (91 is none) and whose characters 7-14 a birth date (00123456 is none).
    body = "91440300123456788"
    assert uscc_check(body) == "M"
    with pytest.raises(InvalidIdentifier) as e:
        identify(body + "X")
    assert e.value.scheme == "cn-uscc" and e.value.expected_check == "M"
    assert "not a cn-ric" in str(e.value) and "province" in str(e.value)
    assert identify(body + "M").scheme == "cn-uscc"


def test_a_resident_id_is_told_from_a_uscc() -> None:
    body = "11010519800101007"
    assert ric_check(body) == "5"
    assert identify(body + "5").scheme == "cn-ric"


def test_a_value_valid_under_both_schemes_is_refused_as_ambiguous() -> None:
    # A resident ID body whose digits also make a USCC: authority 1 (organs), type 1, region
    # 010519, an organisation code with its GB 11714 check, and both check characters equal.
    both = None
    for seq in range(1000):
        body = f"11010519850301{seq:03d}"
        c = ric_check(body)
        code = body + c
        org = code[8:16]
        weights = (3, 7, 9, 10, 5, 8, 4, 2)
        org_check = 11 - sum(int(d) * w for d, w in zip(org, weights, strict=True)) % 11
        org_char = {10: "X", 11: "0"}.get(org_check, str(org_check))
        if code[16] == org_char and uscc_check(code[:17]) == c:
            both = code
            break
    assert both is not None
    assert {r.scheme.value for r in readings(both)} == {"cn-uscc", "cn-ric"}
    with pytest.raises(InvalidIdentifier, match="tried cn-uscc and cn-ric: it is valid as both"):
        identify(both)
    assert identify(f"cn-ric:{both}").scheme == "cn-ric"  # a labelled value is never ambiguous


def test_an_unreadable_value_names_every_scheme_tried() -> None:
    with pytest.raises(InvalidIdentifier) as e:
        identify("1234567")
    msg = str(e.value)
    assert "tried cn-uscc and cn-ric" in msg and "18 characters" in msg and "ISSUER:NUMBER" in msg


def test_decide_names_the_scheme_by_structure(tmp_path: Path) -> None:
    db = ("--database", f"sqlite:///{tmp_path}/ledger.db")
    pol = ("--policies", POLICIES)
    run("ingest", str(ROOT / "examples" / "debtors.csv"), "--agency", "courts", *db, *pol)
    r = run("decide", "91440300123456788X", "transport.air.ticket", *db, *pol)
    assert r.exit_code == 2
    assert "cn-uscc" in r.output and "'M' was expected" in r.output and "not a cn-ric" in r.output
    assert "Traceback" not in r.output
