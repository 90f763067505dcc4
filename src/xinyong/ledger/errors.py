"""The ledger's errors: each says what went wrong and what to do (never a stack trace)."""

from __future__ import annotations


class LedgerError(Exception):
    """A clear, user-facing ledger error (never a stack trace)."""


class Conflict(LedgerError):
    """An id already recorded with different content: ledger entries never change."""


class AlreadyIngested(LedgerError):
    """The same file (or idempotency key) was written by another writer in the meantime."""
