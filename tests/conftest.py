from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from xinyong.files import load_policy
from xinyong.policy.model import Policy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def policy() -> Policy:
    """Every preset under policies/, as shipped."""
    return load_policy(ROOT / "policies")


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write a small policy folder: {'preset.toml': ..., 'x.toml': ...} under tmp/policies/p."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "policies"
        folder = root / "p"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return root

    return make


# --- ledger backends -----------------------------------------------------------------------

import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

PG_ADMIN = os.environ.get("XINYONG_TEST_PG_URL", "")


def _backends() -> list[str]:
    return ["sqlite", "postgresql"]


@pytest.fixture(params=_backends())
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database on each backend. With CI=true a missing PostgreSQL is a
    failure, never a skip."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
        return
    if not PG_ADMIN:
        if os.environ.get("CI") == "true":
            pytest.fail("XINYONG_TEST_PG_URL is not set: CI must run the ledger on PostgreSQL")
        pytest.skip("PostgreSQL not configured (set XINYONG_TEST_PG_URL)")
    from sqlalchemy import create_engine, text

    name = f"xy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
