"""Admin over HTTP: load a policy version and lint it, its impact before it takes effect (a
job: started, then polled until done), and activation. Expected counts are worked out by hand
from the court list's rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from builders import firm, impact_result, listed_debtor, person
from xinyong.api.app import create_app
from xinyong.files import default_policy_dir, read_policy_texts
from xinyong.ledger.store import Ledger
from xinyong.policy.model import Policy
from xinyong.service import add_user

LISTS = "policies/court-debtors/lists.toml"
# the 2019 version of the refusal rule: one month's grace before publication
GRACE = 'grace = "P1M"\nremoval = { rectification_working_days = 3 }'


@pytest.fixture
def files() -> dict[str, str]:
    return read_policy_texts(default_policy_dir())


@pytest.fixture
def ledger(ledger_url: str, policy: Policy) -> Iterator[Ledger]:
    """Firm E1 (Dongcheng, Beijing: an urban district) has a refusal to perform from 10 Jan
    2024: on the court list from 10 Feb after a month's grace. Its legal representative P1
    (Dongcheng too) gets the air-ticket ban through the link; a reviewer confirmed it. P2 has
    nothing."""
    led = listed_debtor(ledger_url, policy, firm("E1"), person("P1", "李四"), person("P2", "王五"))
    yield led
    led.dispose()


@pytest.fixture
def admin(ledger: Ledger) -> dict[str, str]:
    return {"Authorization": f"Bearer {add_user(ledger, 'admin-1', 'admin')}"}


@pytest.fixture
def client(ledger: Ledger, policy: Policy, files: dict[str, str]) -> TestClient:
    return TestClient(create_app(ledger, policy, files=files), raise_server_exceptions=False)


def _with_grace(files: dict[str, str], grace: str | None) -> dict[str, str]:
    text = files[LISTS]
    assert text.count(GRACE) == 1
    new = GRACE.replace('grace = "P1M"\n', f'grace = "{grace}"\n' if grace else "")
    return {LISTS: text.replace(GRACE, new)}


def test_a_longer_grace_releases_the_firm_and_its_representative(
        client: TestClient, admin: dict[str, str], files: dict[str, str]) -> None:
    """Grace of three months: E1 would be listed from 10 April, so on 1 March neither E1 nor
    P1 is restricted any more: two released, one enterprise and one person, both in 北京市,
    both urban; nobody newly restricted."""
    loaded = client.post("/admin/policies", headers=admin,
                         json={"files": _with_grace(files, "P3M")})
    assert loaded.status_code == 200, loaded.text
    body = loaded.json()
    assert body["id"] == "PV-000001" and body["changed"] == [LISTS]
    assert body["errors"] == 0 and body["activatable"] is True
    assert all(f["severity"] == "warning" for f in body["lint"])
    impact = impact_result(client, admin, "PV-000001", "2024-03-01")
    assert impact["subjects"] == 3
    assert impact["restricted"] == {"before": 2, "after": 0}
    assert impact["released"] == {"total": 2, "by_kind": {"enterprise": 1, "person": 1},
                                  "by_region": {"北京市": 2}, "by_area": {"urban": 2}}
    assert impact["newly_restricted"] == {"total": 0, "by_kind": {}, "by_region": {},
                                          "by_area": {}}
    assert impact["measures"]["transport.air.ticket"]["newly"] == 0
    assert impact["measures"]["transport.air.ticket"]["lifted"] >= 1
    assert all(m["newly"] == 0 for m in impact["measures"].values())


def test_no_grace_restricts_at_once(client: TestClient, admin: dict[str, str],
                                    files: dict[str, str]) -> None:
    """Without grace E1 is listed from the judgment's date, 10 Jan: on 20 Jan (still in the
    running rule's grace) E1 and its representative P1 would be newly restricted."""
    client.post("/admin/policies", headers=admin, json={"files": _with_grace(files, None)})
    impact = impact_result(client, admin, "PV-000001", "2024-01-20")
    assert impact["restricted"] == {"before": 0, "after": 2}
    assert impact["newly_restricted"] == {"total": 2,
                                          "by_kind": {"enterprise": 1, "person": 1},
                                          "by_region": {"北京市": 2}, "by_area": {"urban": 2}}
    assert impact["released"]["total"] == 0
    # the same version on a day both rules list E1: no change
    same = impact_result(client, admin, "PV-000001", "2024-03-01")
    assert same["newly_restricted"]["total"] == same["released"]["total"] == 0
    assert same["restricted"] == {"before": 2, "after": 2}


def test_activation_switches_decisions_and_survives_a_restart(
        client: TestClient, admin: dict[str, str], files: dict[str, str], ledger: Ledger,
        policy: Policy) -> None:
    caac = {"Authorization": f"Bearer {add_user(ledger, 'caac-1', 'enforcer', agency='caac')}"}
    ask = {"subject": "P1", "action": "transport.air.ticket", "on": "2024-03-01"}
    assert client.post("/decisions", headers=caac, json=ask).json()["effect"] == "deny"
    client.post("/admin/policies", headers=admin, json={"files": _with_grace(files, "P3M")})
    done = client.post("/admin/policies/PV-000001/activate", headers=admin)
    assert done.status_code == 200, done.text
    assert client.post("/decisions", headers=caac, json=ask).json()["effect"] == "allow"
    # a new service on the same ledger runs the activated version, not the folder's
    again = TestClient(create_app(ledger, policy, files=files))
    listed = again.get("/admin/policies", headers=admin).json()
    assert listed["running"] == "PV-000001"
    assert listed["versions"][0]["activated_by"] == "admin:admin-1"
    assert again.post("/decisions", headers=caac, json=ask).json()["effect"] == "allow"


def test_a_version_with_lint_errors_is_stored_but_not_activated(
        client: TestClient, admin: dict[str, str], files: dict[str, str]) -> None:
    """Without its removal rule the refusal entry (black list) would never end: cn-2021's
    listing-ends rule is an error, so the version cannot take effect."""
    text = files[LISTS].replace(GRACE, 'grace = "P1M"')
    body = client.post("/admin/policies", headers=admin, json={"files": {LISTS: text}}).json()
    errors = [f for f in body["lint"] if f["severity"] == "error"]
    assert [(f["rule"], f["obj"]) for f in errors] == [
        ("listing-ends", "list_rule[spc.dishonest_debtors.refusal]")]
    assert body["errors"] == 1 and body["activatable"] is False
    refused = client.post(f"/admin/policies/{body['id']}/activate", headers=admin)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert "listing-ends" in refused.json()["errors"][0]["detail"]
    assert client.get("/admin/policies", headers=admin).json()["running"] == "policy folder"


def test_a_version_that_does_not_build_is_refused_with_file_and_line(
        client: TestClient, admin: dict[str, str], files: dict[str, str]) -> None:
    text = files[LISTS].replace(GRACE, 'grace = "one month"\nremoval = '
                                '{ rectification_working_days = 3 }')
    bad = client.post("/admin/policies", headers=admin, json={"files": {LISTS: text}})
    assert bad.status_code == 422
    [err] = bad.json()["errors"]
    assert err["pointer"] == "/body/files/policies~1court-debtors~1lists.toml"
    # the loader names the object (its id line) and the key
    at = text.rindex('id = "spc.dishonest_debtors.refusal"', 0, text.index('"one month"'))
    line = text[:at].count("\n") + 1
    assert err["detail"].startswith(
        f"line {line}: list_rule[spc.dishonest_debtors.refusal].grace: 'one month' is not")
    gone = client.post("/admin/policies", headers=admin,
                       json={"files": {}, "remove": ["policies/nowhere.toml"]})
    assert gone.status_code == 422
    assert gone.json()["errors"][0]["pointer"] == "/body/remove/0"
    assert client.get("/admin/policies", headers=admin).json()["versions"] == []


@pytest.mark.parametrize("role", ["public", "subject", "submitter", "enforcer", "reviewer"])
def test_only_admins_touch_policies(client: TestClient, ledger: Ledger, role: str,
                                    files: dict[str, str]) -> None:
    token = {
        "public": None,
        "subject": lambda: add_user(ledger, "p1", "subject", subject="P1"),
        "submitter": lambda: add_user(ledger, "c1", "submitter", agency="courts"),
        "enforcer": lambda: add_user(ledger, "e1", "enforcer", agency="caac"),
        "reviewer": lambda: add_user(ledger, "r1", "reviewer"),
    }[role]
    headers = {} if token is None else {"Authorization": f"Bearer {token()}"}
    expected = 401 if role == "public" else 403
    for method, path, body in [
            ("GET", "/admin/policies", None),
            ("POST", "/admin/policies", {"files": _with_grace(files, "P3M")}),
            ("POST", "/admin/policies/PV-000001/impact?on=2024-03-01", None),
            ("GET", "/admin/jobs", None),
            ("GET", "/admin/jobs/JOB-000001", None),
            ("DELETE", "/admin/jobs/JOB-000001", None),
            ("POST", "/admin/policies/PV-000001/activate", None)]:
        r = client.request(method, path, headers=headers, json=body)
        assert r.status_code == expected, (method, path, r.text)
        assert "PV-" not in r.text and "北京" not in r.text
