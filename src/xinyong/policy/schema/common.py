"""The policy language's common types: periods, ids, legal bases, citations, and the
fields every versioned object has (:class:`Versioned`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from xinyong.periods import Period


def _period(v: Any) -> Period:
    if isinstance(v, Period):
        return v
    if not isinstance(v, str):
        raise ValueError("a period is a string such as 'P2Y', 'P3M' or 'P10D'")
    return Period.parse(v)


PeriodField = Annotated[
    Period,
    BeforeValidator(_period),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$",
            "description": "ISO 8601 period, e.g. P2Y, P3M, P10D",
        }
    ),
]

_ID = r"^[a-z0-9][a-z0-9_.\-]*$"
Id = Annotated[str, Field(pattern=_ID, min_length=2, max_length=120)]
LegalRef = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_.\-]*(#.+)?$",
        description="A law id, optionally with an article: 'spc-2017-7#Art. 1'",
    ),
]


def _one_or_many(v: Any) -> Any:
    return (v,) if isinstance(v, str) else v


LegalBasis = Annotated[
    tuple[LegalRef, ...],
    BeforeValidator(_one_or_many),
    WithJsonSchema({
        "description": "A law id or a list of them, optionally with an article: 'law-id#Art. 3'",
        "anyOf": [{"type": "string"},
                  {"type": "array", "items": {"type": "string"}, "minItems": 1}],
    }),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_CITATION = re.compile(r"^([a-z0-9][a-z0-9_.\-]*)(?:#([^:]+))?: (\S.*)$", re.S)


def _citation(v: Any) -> Any:
    if isinstance(v, str) and not _CITATION.match(v):
        raise ValueError(
            f"{v[:60]!r} is not a citation: write '<document-id>: what it supports' or "
            "'<document-id>#Art. 3: what it supports', the id of a [[document]] or [[law]]")
    return v


Citation = Annotated[
    str,
    AfterValidator(_citation),
    WithJsonSchema({
        "type": "string",
        "pattern": r"^[a-z0-9][a-z0-9_.\-]*(#[^:]+)?: .+$",
        "description": "'<document-id>: what it supports' or '<document-id>#Art. 3: ...'",
    }),
]


def cited_document(citation: str) -> tuple[str, str, str]:
    """``(document id, pinpoint, what it supports)`` of a citation."""
    m = _CITATION.match(citation)
    if m is None:
        return "", "", citation
    return m.group(1), m.group(2) or "", m.group(3)


class Versioned(Strict):
    """Common fields: identity, validity window, legal basis and honesty about numbers."""

    id: Id
    effective_from: date
    effective_to: date | None = Field(
        default=None, description="Exclusive end of validity; absent = still in force"
    )
    legal_basis: LegalBasis = Field(min_length=1, description="Law ids this object rests on")
    temporary: bool = Field(
        default=False,
        description="A temporary version that takes precedence over the general version "
        "of the same id within its window (e.g. Covid-era grace)",
    )
    illustrative: tuple[str, ...] = Field(
        default=(),
        description="Names of fields whose values are not documented and are illustrative",
    )
    sources: tuple[Citation, ...] = Field(
        default=(), description="Where the numbers come from: citations of [[document]] or "
        "[[law]] ids, '<id>#<pinpoint>: what it supports'"
    )
    note: str = ""


    @model_validator(mode="after")
    def _window(self) -> Versioned:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        fields = type(self).model_fields
        unknown = [f for f in self.illustrative if f.split(".")[0] not in fields]
        if unknown:
            raise ValueError(f"illustrative names unknown fields: {', '.join(unknown)}")
        return self

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)
