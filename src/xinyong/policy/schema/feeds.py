"""What comes in: agencies' feed manifests (``[[feed]]``) and the identifier exceptions
(``[[identifier_exception]]``) accepted at ingest."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from xinyong.model import Channel
from xinyong.policy.schema.common import Id, Strict, Versioned

FEED_FIELDS = (
    "record_id", "identifier", "id_scheme", "subject_name", "subject_region", "category",
    "act_date", "effective", "document_no", "legal_basis", "channel",
)


class Feed(Versioned):
    """An agency's data feed manifest: what it may submit and how its columns map to ours.

    ``columns`` maps our field names to the feed's own column names; amounts are mapped as
    ``"amount.tax_evaded" = "their_column"``. Count assertions make a broken feed fail at load.
    ``channels`` are the channels its rows come through (归集渠道): with one, every row comes
    through it; with several, each row names its own in the column mapped to ``channel``.
    """

    agency: Id
    channels: tuple[Channel, ...] = Field(
        min_length=1, description="Channels the rows come through: administrative, judicial, "
        "self_declared, inspection, monitoring or recorder. With several, map 'channel' to the "
        "column naming each row's")
    categories: tuple[Id, ...] = Field(min_length=1)
    columns: dict[str, str] = Field(min_length=1)
    ignore: tuple[str, ...] = Field(default=(), description="Feed columns deliberately unused")
    id_scheme: Literal["cn-uscc", "cn-ric", "passport"] | None = Field(
        default=None, description="Scheme of the identifier column when the feed has only one "
        "(an all-digit USCC can look like a resident ID)")
    min_rows: int = Field(default=1, ge=0)
    max_rows: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _fields(self) -> Feed:
        unknown = [k for k in self.columns
                   if k not in FEED_FIELDS and not re.fullmatch(r"amount\.[a-z][a-z0-9_]*", k)]
        if unknown:
            raise ValueError(f"unknown fields {', '.join(unknown)}; map {', '.join(FEED_FIELDS)}"
                             " or amount.NAME")
        for need in ("category", "effective", "document_no"):
            if need not in self.columns:
                raise ValueError(f"columns must map {need!r}")
        if "identifier" not in self.columns and "subject_name" not in self.columns:
            raise ValueError("columns must map 'identifier' or 'subject_name'")
        if Channel.UNRECORDED in self.channels:
            raise ValueError("'unrecorded' marks records from before channels were recorded; "
                             "name the channel the rows come through")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels repeats a channel")
        if len(self.channels) > 1 and "channel" not in self.columns:
            raise ValueError(f"with several channels ({', '.join(self.channels)}) the rows must "
                             "say theirs: map 'channel' in columns")
        if self.max_rows is not None and self.max_rows < self.min_rows:
            raise ValueError("max_rows is below min_rows")
        return self


class IdentifierException(Strict):
    """A legal code that fails its checksum, accepted by name (audited)."""

    scheme: Literal["cn-uscc", "cn-ric"]
    value: str
    reason: str
    approved_by: str
