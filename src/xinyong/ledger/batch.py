"""What a write takes and gives: a batch of facts and the result of appending it. Kept apart
from the writer so that a transaction can name them without importing the writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xinyong.ledger.payloads import Columns
from xinyong.model import Link, Record, RecordEvent, Subject


@dataclass
class Batch:
    """Facts written together, atomically, at one transaction time."""

    subjects: list[Subject] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    events: list[RecordEvent] = field(default_factory=list)
    ingest: dict[str, Any] | None = None
    record_columns: Columns | None = None
    """Records already in storage form, column by column (ingest builds these directly)."""


@dataclass(frozen=True)
class WriteResult:
    written: dict[str, int]
    unchanged: dict[str, int]
    first_seq: int
    last_seq: int
