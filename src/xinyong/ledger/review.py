"""The identity review queue (人工核查): rows an ingest could not link by identifier wait here
for a person, who links each to a subject (its record is written then, checked as at ingest)
or rejects it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xinyong.ledger.errors import LedgerError
from xinyong.ledger.ingest import Ingest
from xinyong.ledger.store import Ledger
from xinyong.policy.model import Policy


def open_reviews(ledger: Ledger) -> list[Any]:
    return ledger.review_items("open")


def decide_review(ledger: Ledger, policy: Policy, item_id: int, reviewer: str,
                  subject: str | None = None, reason: str = "") -> str:
    """Link a queued row to a subject (writing its record now) or reject it, with who did it.
    A linked row is checked as at ingest (under the policy in force today); its record, the
    item's resolution and the reviewer's audit entry are one transaction."""
    item = ledger.review_item(item_id)
    if item is None:
        raise LedgerError(f"no review item {item_id}")
    if item.status != "open":
        raise LedgerError(f"review item {item_id} is already {item.status}")
    if subject is None:
        with ledger.transaction(reviewer, "review.reject", None,
                                {"item": item_id, "reason": reason}) as tx:
            tx.close_review(item_id, "rejected", reviewer, ledger.clock(), {"reason": reason})
        return f"item {item_id} rejected"
    found = ledger.subjects([subject]).get(subject)
    if found is None:
        raise LedgerError(f"no subject {subject!r}")
    rid = Ingest(ledger, policy, item.agency, Path(f"review item {item_id}"),
                 item.feed).link(item, found, reviewer)
    return f"item {item_id} linked to {subject}: record {rid} written"


__all__ = ["decide_review", "open_reviews"]
