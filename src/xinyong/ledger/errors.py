"""The ledger's errors: each says what went wrong and what to do (never a stack trace)."""

from __future__ import annotations

from dataclasses import dataclass


class LedgerError(Exception):
    """A clear, user-facing ledger error (never a stack trace)."""


class Conflict(LedgerError):
    """An id already recorded with different content: ledger entries never change."""


class AlreadyIngested(LedgerError):
    """The same file (or idempotency key) was written by another writer in the meantime."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    reason: str
    record: str = ""

    def __str__(self) -> str:
        rec = f" (record {self.record})" if self.record else ""
        return f"line {self.line}{rec}, field {self.field}: {self.reason}"


class IngestError(LedgerError):
    """The file was refused; nothing was written. ``errors`` lists every bad row."""

    def __init__(self, file: str, errors: list[RowError], headline: str = ""):
        self.file, self.errors = file, errors
        head = headline or f"{len(errors)} bad row(s); nothing was written"
        super().__init__(f"{file}: {head}")
