"""The HTTP API: roles, the authorization matrix, audit of every access, RFC 9457 errors, and
one run over real HTTP (uvicorn on a loopback port)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders import firm, listed_debtor, person
from xinyong.api.app import create_app
from xinyong.ledger import tables as t
from xinyong.ledger.store import Ledger
from xinyong.policy.model import Policy
from xinyong.service import add_user

REFUSES = "judicial.debtor.refuses_to_perform"
ON = "2024-03-01"
E1, P1, P2 = firm("E1", "深圳某某科技有限公司"), person("P1", "李四"), person("P2", "王五")


@pytest.fixture
def ledger(ledger_url: str, policy: Policy) -> Iterator[Ledger]:
    """E1 is a listed debtor from 10 Feb 2024; P1 its legal representative (the air-ticket ban
    reaches P1, confirmed by a reviewer); P2 has nothing."""
    led = listed_debtor(ledger_url, policy, E1, P1, P2)
    yield led
    led.dispose()


@pytest.fixture
def tokens(ledger: Ledger) -> dict[str, str]:
    return {
        "subject": add_user(ledger, "p1", "subject", subject="P1"),
        "submitter": add_user(ledger, "court-1", "submitter", agency="courts"),
        "enforcer": add_user(ledger, "caac-1", "enforcer", agency="caac"),
        "enforcer-mof": add_user(ledger, "mof-1", "enforcer", agency="mof"),
        "enforcer-other": add_user(ledger, "hotel-1", "enforcer", agency="hotel-association"),
        "reviewer": add_user(ledger, "rev-1", "reviewer"),
        "admin": add_user(ledger, "admin-1", "admin"),
    }


@pytest.fixture
def client(ledger: Ledger, policy: Policy) -> TestClient:
    return TestClient(create_app(ledger, policy), raise_server_exceptions=False)


def auth(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {} if role == "public" else {"Authorization": f"Bearer {tokens[role]}"}


ROLES = ["public", "subject", "submitter", "enforcer", "reviewer", "admin"]

# endpoint → the roles allowed, and for the subject role whether only its own data
MATRIX: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "/public/search?q=E1", None, set(ROLES)),
    ("GET", f"/subjects/P1/file?on={ON}", None, {"subject", "reviewer", "admin"}),
    ("GET", f"/subjects/P2/file?on={ON}", None, {"reviewer", "admin"}),  # not P1's own
    ("POST", "/decisions", {"subject": "P1", "action": "transport.air.ticket", "on": ON},
     {"enforcer"}),
    ("POST", "/decisions/batch", {"items": [{"subject": "P1", "action": "transport.air.ticket",
                                             "on": ON}]}, {"enforcer"}),
    ("POST", "/records/batch", {"records": [
        {"record_id": "C9", "identifier": P2.identifiers[0].value, "subject_name": "王五",
         "category": REFUSES, "effective": "2024-02-01", "document_no": "(2024)京01执9号"}]},
     {"submitter"}),
    ("POST", "/objections", {"target": "record:R1", "reason": "not our debt"}, {"subject"}),
    ("POST", "/repairs", {"target": "list:spc.dishonest_debtors"}, {"subject"}),
    ("GET", "/cases", None, {"subject", "reviewer", "admin"}),
    ("POST", "/cases/REV-000001/resolve", {"outcome": "confirmed", "reasons": "ok"},
     {"reviewer"}),  # P1 did not file it: a subject may not touch it
    ("GET", "/notices", None, {"subject", "submitter", "enforcer", "reviewer", "admin"}),
    ("GET", "/admin/policies", None, {"admin"}),
    ("POST", "/admin/policies", {"files": {}}, {"admin"}),
    ("POST", "/admin/policies/PV-000001/impact?on=2024-03-01", None, {"admin"}),
    ("POST", "/admin/policies/PV-000001/activate", None, {"admin"}),
    ("GET", "/admin/jobs", None, {"admin"}),
    ("GET", "/admin/jobs/JOB-000001", None, {"admin"}),
    ("DELETE", "/admin/jobs/JOB-000001", None, {"admin"}),
]
NO_SUCH = {"/admin/policies/PV-000001/impact?on=2024-03-01",
           "/admin/policies/PV-000001/activate", "/admin/jobs/JOB-000001"}
"""Paths whose object does not exist in the fixture: an allowed role gets 404 (audited)."""


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_authorization_matrix(client: TestClient, tokens: dict[str, str], ledger: Ledger,
                              role: str, method: str, path: str, body: dict[str, Any] | None,
                              allowed: set[str]) -> None:
    before = _audit_count(ledger)
    r = client.request(method, path, json=body, headers=auth(tokens, role))
    if role in allowed:  # let through; the request itself may still be refused on its merits
        assert r.status_code in ((404,) if path in NO_SUCH else (200, 422)), r.text
    else:
        assert r.status_code == (401 if role == "public" else 403), r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "李四" not in r.text and "R1" not in r.text  # zero leaks
    assert _audit_count(ledger) == before + 1  # every access, refused ones too


def _audit_count(ledger: Ledger) -> int:
    with ledger.engine.connect() as c:
        return len(c.execute(select(t.audit_log.c.seq)).all())


def test_an_enforcer_sees_only_measures_of_memoranda_its_agency_signed(
        client: TestClient, tokens: dict[str, str]) -> None:
    ask = {"subject": "P1", "action": "transport.air.ticket", "on": ON}
    caac = client.post("/decisions", json=ask, headers=auth(tokens, "enforcer")).json()
    assert caac["effect"] == "deny"
    assert {r["applied_by"] for r in caac["reasons"]} == {"caac"}
    assert all([x["id"] for x in r["records"]] == ["R1"] for r in caac["reasons"])
    mof = client.post("/decisions", json=ask, headers=auth(tokens, "enforcer-mof")).json()
    # the finance ministry signed the 2016 memorandum too, so it sees the same ban
    assert mof["effect"] == "deny"
    # an agency that signed no memorandum sees no measure, and learns nothing about P1
    other = client.post("/decisions", json=ask, headers=auth(tokens, "enforcer-other")).json()
    assert other["effect"] == "allow" and other["reasons"] == []


def test_the_public_portal_shows_published_entries(client: TestClient) -> None:
    r = client.get("/public/search", params={"q": "深圳某某", "on": ON})
    assert r.status_code == 200
    [hit] = r.json()
    assert hit["subject"]["id"] == "E1"
    assert "spc.dishonest_debtors" in [e["list"] for e in hit["list_entries"]]
    assert client.get("/public/search", params={"q": "王五", "on": ON}).json() == []


def test_a_subject_reads_its_own_file(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.get(f"/subjects/P1/file?on={ON}", headers=auth(tokens, "subject"))
    body = r.json()
    assert body["subject"]["id"] == "P1" and "cases" in body and "notices" in body


def test_errors_are_problem_details_with_field_paths(client: TestClient,
                                                     tokens: dict[str, str]) -> None:
    r = client.post("/decisions/batch", json={"items": [{"subject": "", "action": 3}]},
                    headers=auth(tokens, "enforcer"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/body/items/0/subject", "/body/items/0/action"} <= pointers
    r = client.post("/decisions", json={"subject": "NOPE", "action": "transport.air.ticket"},
                    headers=auth(tokens, "enforcer"))
    assert r.status_code == 404 and r.json()["status"] == 404
    r = client.post("/decisions", json={"subject": "P1", "action": "teleport"},
                    headers=auth(tokens, "enforcer"))
    assert r.status_code == 404 and "unknown action" in r.json()["detail"]
    r = client.get("/public/search?q=E1", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401 and r.json()["title"] == "Unauthorized"
    r = client.get("/no/such/path")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_tokens_are_stored_hashed(ledger: Ledger, tokens: dict[str, str]) -> None:
    with ledger.engine.connect() as c:
        stored = json.dumps([list(r) for r in c.execute(select(t.users))], default=str)
    assert all(tok not in stored for tok in tokens.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_http_over_uvicorn(ledger: Ledger, policy: Policy, tokens: dict[str, str]) -> None:
    import httpx
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ledger, policy), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        r = httpx.post(f"{base}/decisions", headers=auth(tokens, "enforcer"),
                       json={"subject": "P1", "action": "transport.air.ticket", "on": ON})
        assert r.status_code == 200 and r.json()["effect"] == "deny"
        assert "/decisions" in httpx.get(f"{base}/openapi.json").json()["paths"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_agency_submits_records_all_or_nothing(client: TestClient, ledger: Ledger,
                                                  tokens: dict[str, str]) -> None:
    court = auth(tokens, "submitter")
    good = {"record_id": "C1", "identifier": P2.identifiers[0].value, "subject_name": "王五",
            "category": REFUSES, "effective": "2024-02-01", "document_no": "(2024)京01执1号",
            "amounts": {"amount_owed": "5000"}}
    bad = [good | {"record_id": "C2", "effective": "2099-01-01"},
           good | {"record_id": "C3", "amounts": {"amount_owed": "-5"}},
           good | {"record_id": "C4", "identifier": P2.identifiers[0].value[:-1] + "0"
                   if P2.identifiers[0].value[-1] != "0" else P2.identifiers[0].value[:-1]
                   + "1"}]
    before = ledger.counts()["record"]
    r = client.post("/records/batch", json={"records": [good, *bad]}, headers=court)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in r.json()["errors"]] == [
        "/body/records/1/effective", "/body/records/2/amounts/amount_owed",
        "/body/records/3/identifier"]
    assert ledger.counts()["record"] == before  # nothing written
    r = client.post("/records/batch", json={"records": [good]},
                    headers=court | {"Idempotency-Key": "court-2024-02-01-1"})
    assert r.status_code == 200 and r.json()["written"] == 1
    again = client.post("/records/batch", json={"records": [good]},
                        headers=court | {"Idempotency-Key": "court-2024-02-01-1"})
    assert again.json()["already_submitted"] is True and again.json()["written"] == 0
    one = client.post("/records", json=good | {"record_id": "C5", "document_no": "(2024)5号"},
                      headers=court)
    assert one.status_code == 200 and one.json()["written"] == 1
    r = client.post("/records", json=good | {"religion": "x"}, headers=court)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/body/religion"
    assert ledger.counts()["record"] == before + 2


def test_object_and_uphold_over_http(client: TestClient, ledger: Ledger,
                                     tokens: dict[str, str]) -> None:
    """P1, the firm's legal representative, objects to the firm's record; a reviewer upholds
    it; the airline's next decision allows, and the airline has a correction notice."""
    p1, rev, caac = (auth(tokens, r) for r in ("subject", "reviewer", "enforcer"))
    r = client.post("/objections", json={"target": "record:R1", "reason": "wrong firm"},
                    headers=p1)
    assert r.status_code == 200 and r.json()["filed_by"] == "legal_representative:P1"
    case = r.json()["id"]
    d = client.post("/decisions", json={"subject": "P1", "action": "transport.air.ticket"},
                    headers=caac).json()
    assert d["effect"] == "deny" and d["reasons"][0]["disputed"] == ["record:R1"]
    r = client.post(f"/cases/{case}/resolve", json={"outcome": "upheld"}, headers=p1)
    assert r.status_code == 403  # a subject may only withdraw
    r = client.post(f"/cases/{case}/resolve", json={"outcome": "upheld"}, headers=rev)
    assert r.status_code == 422 and "written reasons" in r.json()["detail"]
    r = client.post(f"/cases/{case}/resolve", json={"outcome": "upheld", "reasons": "court "
                                                   "confirmed"}, headers=rev)
    assert r.status_code == 200 and r.json()["revoked"] == ["R1"]
    d = client.post("/decisions", json={"subject": "P1", "action": "transport.air.ticket"},
                    headers=caac).json()
    assert d["effect"] == "allow"
    mine = client.get("/notices", headers=caac).json()
    assert {n["kind"] for n in mine} == {"correction"}
    assert {n["recipient"] for n in mine} == {"agency:caac"}
    assert [c["id"] for c in client.get("/cases", headers=p1).json()] == [case]


def test_concurrent_submissions_lose_and_duplicate_nothing(
        ledger: Ledger, policy: Policy, tokens: dict[str, str]) -> None:
    """Four clients over real HTTP each send five batches of three records; each batch is
    also sent a second time by another client (same Idempotency-Key). Every record arrives
    once; the ledger verifies."""
    import httpx
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ledger, policy), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    ident = P2.identifiers[0].value
    court = auth(tokens, "submitter")

    def batch(c: int, b: int) -> dict[str, Any]:
        return {"records": [{"record_id": f"K{c}-{b}-{i}", "identifier": ident,
                             "subject_name": "王五", "category": REFUSES,
                             "effective": "2024-02-01", "document_no": f"(2024)京{c}{b}{i}号"}
                            for i in range(3)]}

    failures: list[str] = []

    def client(c: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            for b in range(5):
                for who in (c, (c + 1) % 4):  # mine, then my neighbour's again
                    r = http.post("/records/batch", json=batch(who, b),
                                  headers=court | {"Idempotency-Key": f"k-{who}-{b}"})
                    if r.status_code != 200:
                        failures.append(r.text)

    before = ledger.counts()["record"]
    try:
        workers = [threading.Thread(target=client, args=(c,)) for c in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert failures == []
    assert ledger.counts()["record"] == before + 4 * 5 * 3
    assert ledger.verify().ok
