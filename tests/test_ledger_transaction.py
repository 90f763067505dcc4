"""The ledger's public write transaction: what it writes and its audit entry commit together or
not at all; and nothing outside the ledger reaches into it (its private ``_writing`` and
``_audit``, or SQL of its own on ``ledger.engine``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from builders import Clock
from xinyong.ledger import tables as t
from xinyong.ledger.store import Ledger, LedgerError

SRC = Path(__file__).parent.parent / "src" / "xinyong"
AT = datetime(2024, 1, 10, 9)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url, clock=Clock(AT))
    yield led
    led.dispose()


def user(uid: str) -> dict[str, object]:
    return {"id": uid, "role": "reviewer", "subject": None, "agency": None,
            "token_sha256": uid.ljust(64, "0"), "created_at": AT, "created_by": "admin"}


def test_a_transaction_commits_its_writes_with_its_audit_entry(ledger: Ledger) -> None:
    with ledger.transaction("admin", "users.add", None, {"user": "u1"}) as tx:
        tx.add_user(user("u1"))
        tx.detail["role"] = "reviewer"  # known inside the block: still in the entry
    with ledger.engine.connect() as conn:
        users = [r.id for r in conn.execute(select(t.users.c.id))]
        audit = conn.execute(select(t.audit_log)).all()
    assert users == ["u1"]
    assert [(a.seq, a.actor, a.action, a.subject) for a in audit] == [
        (1, "admin", "users.add", None)]
    assert json.loads(audit[0].detail) == {"user": "u1", "role": "reviewer"}
    assert ledger.verify().ok and ledger.verify().audit_entries == 1


def test_a_failed_transaction_writes_neither_its_rows_nor_its_audit_entry(
        ledger: Ledger) -> None:
    with ledger.transaction("admin", "users.add", None, {"user": "u1"}) as tx:
        tx.add_user(user("u1"))
    with (pytest.raises(LedgerError, match="user 'u1' exists already"),
          ledger.transaction("admin", "users.add", None, {"user": "u2"}) as tx):
        tx.add_user(user("u2"))
        tx.add_user(user("u1"))  # refused: u2 goes too
    with (pytest.raises(ZeroDivisionError),
          ledger.transaction("admin", "users.add", None, {"user": "u3"}) as tx):
        tx.add_user(user("u3"))
        1 / 0  # noqa: B018
    with ledger.engine.connect() as conn:
        assert [r.id for r in conn.execute(select(t.users.c.id))] == ["u1"]
        assert [r.detail for r in conn.execute(select(t.audit_log.c.detail))] == [
            '{"user":"u1"}']


def test_nothing_outside_the_ledger_reaches_into_it() -> None:
    reach = re.compile(r"\._writing\(|\._audit\(|\.engine\.connect|ledger import tables")
    found = [f"{p.relative_to(SRC)}:{n}" for p in sorted(SRC.rglob("*.py"))
             if p.relative_to(SRC).parts[0] != "ledger"
             for n, line in enumerate(p.read_text().splitlines(), 1) if reach.search(line)]
    assert found == []
