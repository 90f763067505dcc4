"""schemathesis against the OpenAPI document: no server errors, no responses that break the
schema, for every endpoint, as the public and as each role. Schema-valid requests may still be
refused on their merits (an unknown record, a category outside the catalog): that is 422 with
the reasons, so the check that every schema-valid request is accepted is left out."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from builders import firm, link, person, record
from xinyong.api.app import create_app
from xinyong.files import load_policy
from xinyong.ledger.store import Batch, Ledger
from xinyong.service import add_user


def _app(tmp: str) -> tuple[object, dict[str, str]]:
    policy = load_policy()
    led = Ledger.open(f"sqlite:///{tmp}/ledger.db", clock=lambda: datetime(2024, 2, 12, 9))
    led.write(Batch(subjects=[firm("E1"), person("P1")],
                    links=[link("E1", "P1", "legal_representative")],
                    records=[record("R1", "E1", "judicial.debtor.refuses_to_perform",
                                    date(2024, 1, 10))]))
    tokens = {role: add_user(led, f"u-{role}", role, subject="P1" if role == "subject" else None,
                             agency="courts" if role in ("submitter", "enforcer") else None)
              for role in ("subject", "submitter", "enforcer", "reviewer", "admin")}
    return create_app(led, policy), tokens


APP, TOKENS = _app(__import__("tempfile").mkdtemp(prefix="xy-schema-"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.parametrize("role", ["public", "subject", "submitter", "enforcer", "reviewer",
                                  "admin"])
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case, role: str) -> None:
    headers = {} if role == "public" else {"Authorization": f"Bearer {TOKENS[role]}"}
    case.call_and_validate(headers=headers,
                           excluded_checks=[schemathesis.checks.positive_data_acceptance])
