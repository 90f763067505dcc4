"""The rules of due process for cases: which status a case of each kind may move to, which
outcomes need written reasons, and the error a refused request raises. Cases themselves are
kept by the ledger (``ledger.cases``)."""

from __future__ import annotations

from xinyong.ledger.cases import OPEN, Case, CaseEvent, load
from xinyong.ledger.errors import LedgerError

__all__ = ["NEEDS_REASONS", "OPEN", "TRANSITIONS", "Case", "CaseError", "CaseEvent", "load"]
# Case, CaseEvent, OPEN and load are re-exported for callers not yet moved (cli_process)

# kind → status → the statuses it may move to
TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "objection": {"filed": ("under_review", "upheld", "rejected", "withdrawn"),
                  "under_review": ("upheld", "rejected", "withdrawn")},
    "repair": {"applied": ("granted", "refused")},
    "review": {"pending": ("confirmed", "declined")},
}
NEEDS_REASONS = {"upheld", "rejected", "refused", "declined"}


class CaseError(LedgerError):
    """A due-process request that cannot be carried out, with what to do instead."""
