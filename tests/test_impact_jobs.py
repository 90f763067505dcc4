"""The admin impact analysis as a job (issue 12): started with POST, followed with GET until
done, listed, cancelled; kept in the ledger, so its result outlives the process and a job that
was running when the process stopped is marked interrupted at the next start. The counting
itself (``impact_of``) is checked on restriction maps worked by hand.

The fixture is the one of test_api_admin.py: firm E1 (Dongcheng, Beijing) listed from 10 Feb
2024 after a month's grace, its legal representative P1 reached by the air-ticket ban, P2
with nothing. A three-month grace releases E1 and P1 on 1 March 2024."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import xinyong.service.admin as admin_module
from builders import finished_job, firm, impact_result, listed_debtor, person
from xinyong.api.app import create_app
from xinyong.files import default_policy_dir, read_policy_texts
from xinyong.ledger import jobs as stored
from xinyong.ledger import tables as t
from xinyong.ledger.store import Ledger
from xinyong.policy.model import Policy
from xinyong.service import add_user
from xinyong.service.admin import impact_of

LISTS = "policies/court-debtors/lists.toml"
GRACE = 'grace = "P1M"\nremoval = { rectification_working_days = 3 }'
ON = "2024-03-01"
WAIT = 30.0
"""Longest wait for anything a worker thread does: a hung job fails the test, never hangs."""


@pytest.fixture
def files() -> dict[str, str]:
    return read_policy_texts(default_policy_dir())


@pytest.fixture
def ledger(ledger_url: str, policy: Policy) -> Iterator[Ledger]:
    led = listed_debtor(ledger_url, policy, firm("E1"), person("P1", "李四"),
                        person("P2", "王五"))
    yield led
    led.dispose()


@pytest.fixture
def admin(ledger: Ledger) -> dict[str, str]:
    return {"Authorization": f"Bearer {add_user(ledger, 'admin-1', 'admin')}"}


@pytest.fixture
def client(ledger: Ledger, policy: Policy, files: dict[str, str],
           admin: dict[str, str]) -> Iterator[TestClient]:
    """The app with version PV-000001 loaded: the court list's grace lengthened to three
    months."""
    app = create_app(ledger, policy, files=files)
    c = TestClient(app, raise_server_exceptions=False)
    text = files[LISTS]
    assert text.count(GRACE) == 1
    loaded = c.post("/admin/policies", headers=admin,
                    json={"files": {LISTS: text.replace('grace = "P1M"', 'grace = "P3M"')}})
    assert loaded.status_code == 200 and loaded.json()["id"] == "PV-000001", loaded.text
    yield c
    app.state.admin.jobs.shutdown(wait=True)


class Gate:
    """Holds the worker inside the engine: the ``stop_at``-th evaluation (two per subject:
    running policy, then candidate) waits until ``go`` is set, so a test sees the job
    running and can act on it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stop_at: int):
        self.calls, self.stop_at = 0, stop_at
        self.reached, self.go = threading.Event(), threading.Event()
        real = admin_module.assess

        def held(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.stop_at:
                self.reached.set()
                assert self.go.wait(WAIT), "the test never released the gate"
            return real(*args, **kwargs)

        monkeypatch.setattr(admin_module, "assess", held)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """The worker held at the second subject's first evaluation (one subject per slice)."""
    g = Gate(monkeypatch, stop_at=3)
    yield g
    g.go.set()


def _audit(ledger: Ledger) -> list[tuple[str, str, dict[str, Any]]]:
    with ledger.engine.connect() as c:
        return [(r.actor, r.action, json.loads(r.detail)) for r in c.execute(
            select(t.audit_log).order_by(t.audit_log.c.seq))]


def _start(client: TestClient, admin: dict[str, str], on: str = ON) -> dict[str, Any]:
    r = client.post(f"/admin/policies/PV-000001/impact?on={on}", headers=admin)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


# --- the job's life ---------------------------------------------------------------------------


def test_a_job_is_started_polled_to_done_and_audited(client: TestClient, ledger: Ledger,
                                                     admin: dict[str, str]) -> None:
    started = client.post(f"/admin/policies/PV-000001/impact?on={ON}", headers=admin)
    assert started.status_code == 202
    job = started.json()
    assert job["id"] == "JOB-000001" and job["kind"] == "policies.impact"
    assert job["state"] in ("queued", "running")
    assert started.headers["location"] == job["links"]["self"] == "/admin/jobs/JOB-000001"
    assert job["params"]["version"] == "PV-000001" and job["params"]["on"] == ON
    assert job["created_by"] == "admin:admin-1" and job["result"] is None
    done = finished_job(client, admin, job, WAIT)
    assert done["state"] == "done" and done["reason"] is None
    assert done["progress"] == {"done": 3, "total": 3}  # E1, P1 and P2
    result = done["result"]
    # worked by hand (test_api_admin.py): E1 and P1 released, one enterprise and one person
    assert result["version"] == "PV-000001" and result["on"] == ON
    assert result["subjects"] == 3
    assert result["restricted"] == {"before": 2, "after": 0}
    assert result["released"] == {"total": 2, "by_kind": {"enterprise": 1, "person": 1},
                                  "by_region": {"北京市": 2}, "by_area": {"urban": 2}}
    assert result["newly_restricted"]["total"] == 0
    assert list(result) == ["version", "running", "candidate", "on", "subjects", "restricted",
                            "newly_restricted", "released", "measures"]
    listed = client.get("/admin/jobs", headers=admin).json()["jobs"]
    assert [(j["id"], j["state"]) for j in listed] == [("JOB-000001", "done")]
    assert "result" not in listed[0]
    assert client.get("/admin/jobs?state=running", headers=admin).json() == {"jobs": []}
    entries = _audit(ledger)
    [start] = [e for e in entries if e[1] == "policies.impact"]
    assert start == ("admin:admin-1", "policies.impact",
                     {"version": "PV-000001", "on": ON, "job": "JOB-000001"})
    [end] = [e for e in entries if e[1] == "jobs.done"]
    assert end == ("platform", "jobs.done", {"job": "JOB-000001", "version": "PV-000001",
                                             "on": ON, "subjects": 3, "newly_restricted": 0,
                                             "released": 2})
    reads = [e for e in entries if e[1] == "jobs.read"]
    assert reads and all(e[0] == "admin:admin-1" and e[2]["job"] == "JOB-000001"
                         for e in reads)
    assert [e[2]["count"] for e in entries if e[1] == "jobs.list"] == [1, 0]


def test_progress_is_reported_while_the_job_runs(client: TestClient, admin: dict[str, str],
                                                 gate: Gate) -> None:
    client.app.state.admin.slice = 1  # type: ignore[attr-defined]
    job = _start(client, admin)
    assert gate.reached.wait(WAIT)
    running = client.get(job["links"]["self"], headers=admin).json()
    assert running["state"] == "running" and running["started_at"] is not None
    assert running["progress"] == {"done": 1, "total": 3}
    assert running["result"] is None
    gate.go.set()
    assert finished_job(client, admin, job, WAIT)["state"] == "done"


def test_jobs_run_one_at_a_time_and_a_queued_one_is_cancelled_at_once(
        client: TestClient, ledger: Ledger, admin: dict[str, str], gate: Gate) -> None:
    client.app.state.admin.slice = 1  # type: ignore[attr-defined]
    first = _start(client, admin)
    assert gate.reached.wait(WAIT)
    second = _start(client, admin, "2024-01-20")
    assert client.get(second["links"]["self"], headers=admin).json()["state"] == "queued"
    cancelled = client.delete(second["links"]["self"], headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["reason"] == "cancelled by admin:admin-1 before it started"
    # the running one is asked to stop; it stops at its next step
    asked = client.delete(first["links"]["self"], headers=admin)
    assert asked.status_code == 202, asked.text
    assert asked.json()["state"] == "running"
    assert asked.json()["cancel_requested_by"] == "admin:admin-1"
    gate.go.set()
    ended = finished_job(client, admin, first, WAIT)
    assert ended["state"] == "cancelled" and ended["reason"] == "cancelled by admin:admin-1"
    assert ended["result"] is None
    client.app.state.admin.jobs.shutdown(wait=True)  # type: ignore[attr-defined]
    never = client.get(second["links"]["self"], headers=admin).json()
    assert never["state"] == "cancelled" and never["started_at"] is None
    # an ended job cannot be cancelled
    again = client.delete(first["links"]["self"], headers=admin)
    assert again.status_code == 422
    assert again.headers["content-type"] == "application/problem+json"
    assert "cancelled" in again.json()["detail"]
    actions = [a for _, a, _ in _audit(ledger)]
    assert actions.count("jobs.cancel") == 2 and actions.count("jobs.cancelled") == 1
    assert "failed:jobs.cancel" in actions and "jobs.done" not in actions


def test_a_failing_job_says_why_without_a_traceback(client: TestClient, admin: dict[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: Any, **_k: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(admin_module, "assess", broken)
    failed = finished_job(client, admin, _start(client, admin), WAIT)
    assert failed["state"] == "failed" and failed["result"] is None
    assert failed["reason"].startswith("unexpected fault (ZeroDivisionError)")
    assert "Traceback" not in json.dumps(failed) and "boom" not in failed["reason"]


# --- restarts ---------------------------------------------------------------------------------


def test_a_restart_marks_running_and_queued_jobs_interrupted_and_keeps_results(
        client: TestClient, ledger: Ledger, admin: dict[str, str], policy: Policy,
        files: dict[str, str]) -> None:
    done = finished_job(client, admin, _start(client, admin), WAIT)
    assert done["state"] == "done"
    # a process that died: one job running at 1 of 3 subjects, one still queued
    for _ in range(2):
        with ledger.transaction("admin:admin-1", "policies.impact") as tx:
            tx.add_job("policies.impact", {"version": "PV-000001", "on": ON},
                       ledger.clock(), "admin:admin-1")
    assert stored.claim(ledger, "JOB-000002", ledger.clock())
    stored.progress(ledger, "JOB-000002", 1, 3)
    again = TestClient(create_app(ledger, policy, files=files), raise_server_exceptions=False)
    running = again.get("/admin/jobs/JOB-000002", headers=admin).json()
    assert running["state"] == "interrupted" and running["finished_at"] is not None
    assert running["reason"] == ("the service stopped while the job ran (1 of 3 done); "
                                 "start it again")
    queued = again.get("/admin/jobs/JOB-000003", headers=admin).json()
    assert queued["state"] == "interrupted"
    assert queued["reason"] == "the service stopped before the job started; start it again"
    kept = again.get("/admin/jobs/JOB-000001", headers=admin).json()
    assert kept == done  # the result survives the restart
    [mark] = [d for a, action, d in _audit(ledger) if action == "jobs.interrupted"]
    assert mark == {"why": "the service started", "jobs": ["JOB-000002", "JOB-000003"]}
    # a third start finds nothing to mark
    create_app(ledger, policy, files=files)
    assert [a for _, a, _ in _audit(ledger)].count("jobs.interrupted") == 1


def test_a_clean_shutdown_marks_the_running_job_interrupted(
        ledger: Ledger, policy: Policy, files: dict[str, str], admin: dict[str, str],
        client: TestClient, gate: Gate) -> None:
    app = create_app(ledger, policy, files=files)
    app.state.admin.slice = 1
    with TestClient(app) as c:  # runs the lifespan: its end is the service stopping
        job = _start(c, admin)
        assert gate.reached.wait(WAIT)
    gate.go.set()
    app.state.admin.jobs.shutdown(wait=True)  # the worker thread has stopped
    row = stored.job(ledger, job["id"])
    assert row.state == "interrupted" and row.result is None
    assert row.reason == "the service stopped while the job ran (1 of 3 done); start it again"
    actions = [a for _, a, _ in _audit(ledger)]
    assert "jobs.done" not in actions and actions.count("jobs.interrupted") == 1
    with TestClient(app) as c:  # a stopped service starts no job
        assert c.post(f"/admin/policies/PV-000001/impact?on={ON}",
                      headers=admin).status_code == 422


# --- bad input and roles ----------------------------------------------------------------------


def test_bad_input_is_a_clear_4xx(client: TestClient, admin: dict[str, str]) -> None:
    for method, path, status, words in [
            ("GET", "/admin/jobs/JOB-999999", 404, "no job 'JOB-999999'"),
            ("DELETE", "/admin/jobs/JOB-999999", 404, "no job 'JOB-999999'"),
            ("GET", "/admin/jobs/nonsense", 404, "no job 'nonsense'"),
            ("POST", f"/admin/policies/PV-000009/impact?on={ON}", 404,
             "no policy version 'PV-000009'"),
            ("POST", "/admin/policies/PV-000001/impact?on=2024-13-01", 422, "field(s)"),
            ("POST", "/admin/policies/PV-000001/impact?on=20240301", 422, "field(s)"),
            ("GET", "/admin/jobs?state=sleeping", 422, "field(s)"),
            ("GET", "/admin/jobs?limit=0", 422, "field(s)")]:
        r = client.request(method, path, headers=admin)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert words in r.json()["detail"], (path, r.json())
    for on, why in [("2024-13-01", "month must be in 1..12"), ("20240301", "YYYY-MM-DD")]:
        bad = client.post(f"/admin/policies/PV-000001/impact?on={on}", headers=admin)
        [err] = bad.json()["errors"]
        assert err["pointer"] == "/query/on" and why in err["detail"], err
    assert client.get("/admin/jobs", headers=admin).json() == {"jobs": []}


@pytest.mark.parametrize("role", ["public", "subject", "submitter", "enforcer", "reviewer"])
def test_only_admins_start_read_list_and_cancel_jobs(client: TestClient, ledger: Ledger,
                                                     admin: dict[str, str], role: str) -> None:
    job = finished_job(client, admin, _start(client, admin), WAIT)
    token = {"public": None,
             "subject": lambda: add_user(ledger, "p1", "subject", subject="P1"),
             "submitter": lambda: add_user(ledger, "c1", "submitter", agency="courts"),
             "enforcer": lambda: add_user(ledger, "e1", "enforcer", agency="caac"),
             "reviewer": lambda: add_user(ledger, "r1", "reviewer")}[role]
    headers = {} if token is None else {"Authorization": f"Bearer {token()}"}
    for method, path in [("POST", f"/admin/policies/PV-000001/impact?on={ON}"),
                         ("GET", "/admin/jobs"), ("GET", job["links"]["self"]),
                         ("DELETE", job["links"]["self"])]:
        before = len(_audit(ledger))
        r = client.request(method, path, headers=headers)
        assert r.status_code == (401 if role == "public" else 403), (method, path, r.text)
        assert "JOB-" not in r.text and "北京" not in r.text
        assert len(_audit(ledger)) == before + 1  # the refusal is audited
        assert _audit(ledger)[-1][1].startswith("refused:")
    assert [j["id"] for j in client.get("/admin/jobs", headers=admin).json()["jobs"]] == [
        "JOB-000001"]


# --- the counting, from restriction maps --------------------------------------------------------


def test_impact_of_counts_from_two_restriction_maps() -> None:
    """Worked by hand. Before: E1 and P1 barred from air tickets (a). After: E1 barred from
    air tickets and high-speed rail (b), P1 from nothing, P2 from rail. So restricted 2 → 2;
    P1 released (a person, Beijing, urban), P2 newly restricted (a person of Shanghai's
    Huangpu district: urban); a lifted for P1, b newly for E1 and P2."""
    e1, p1 = firm("E1"), person("P1")
    p2 = person("P2", region="310101")
    subjects = {s.id: s for s in (e1, p1, p2)}
    before = {"E1": {"a"}, "P1": {"a"}}
    after = {"E1": {"a", "b"}, "P2": {"b"}}
    got = impact_of(before, after, subjects)
    assert got == {
        "subjects": 3,
        "restricted": {"before": 2, "after": 2},
        "newly_restricted": {"total": 1, "by_kind": {"person": 1}, "by_region": {"上海市": 1},
                             "by_area": {"urban": 1}},
        "released": {"total": 1, "by_kind": {"person": 1}, "by_region": {"北京市": 1},
                     "by_area": {"urban": 1}},
        "measures": {"a": {"newly": 0, "lifted": 1}, "b": {"newly": 2, "lifted": 0}}}
    # a subject outside ``subjects`` is not counted; the maps are not changed
    assert impact_of({"X": {"a"}}, {}, subjects)["restricted"] == {"before": 0, "after": 0}
    assert before == {"E1": {"a"}, "P1": {"a"}}


def test_the_synchronous_impact_equals_the_job(client: TestClient, ledger: Ledger,
                                               admin: dict[str, str], policy: Policy) -> None:
    """``admin.impact`` (for scripts and studies) and the job count the same way."""
    from xinyong.policy.loader import build
    from xinyong.service.admin import impact

    job = impact_result(client, admin, "PV-000001", ON)
    row = admin_module.policy_version(ledger, "PV-000001")
    direct = impact(ledger, policy, build(row.files), date(2024, 3, 1))
    assert {k: v for k, v in job.items() if k not in ("version", "running", "candidate")} \
        == direct
