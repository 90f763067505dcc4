"""The API's request bodies and its error body (RFC 9457 problem details), as the OpenAPI
document shows them."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, Field

PROBLEM = "application/problem+json"


def _full_date(v: Any) -> Any:
    """RFC 3339 full-date only (YYYY-MM-DD): no timestamps, week dates or basic format."""
    if isinstance(v, date):
        return v
    if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        raise ValueError("write the date as YYYY-MM-DD")
    return date.fromisoformat(v)


Day = Annotated[date, BeforeValidator(_full_date)]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Invalid fields: JSON pointer and what is wrong")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": why, "content": {PROBLEM: {"schema": Problem.model_json_schema()}}}
    for code, why in ((400, "The body is not valid JSON"),
                      (401, "No valid token where one is needed"),
                      (403, "The role may not do this, or not to this subject"),
                      (404, "No such subject, action, case or path"),
                      (405, "Method not allowed"),
                      (422, "Invalid input, with a pointer to each field"),
                      (500, "Unexpected fault; nothing was changed"))}


class DecisionAsk(BaseModel):
    subject: str = Field(min_length=1, max_length=80, description="Subject id or identifier")
    action: str = Field(min_length=1, max_length=120, examples=["transport.air.ticket"])
    on: Day | None = Field(default=None, description="Date (default: today)")


class RecordIn(BaseModel):
    """One record in our field names; the agency's feed manifest says which it may send."""

    model_config = {"extra": "forbid"}
    record_id: str | None = Field(default=None, max_length=80)
    identifier: str | None = Field(default=None, max_length=40)
    id_scheme: str | None = Field(default=None, max_length=20)
    subject_name: str | None = Field(default=None, max_length=200)
    subject_region: str | None = Field(default=None, max_length=6)
    category: str = Field(max_length=120)
    act_date: Day | None = None
    effective: Day
    document_no: str = Field(max_length=200)
    legal_basis: str | None = Field(default=None, max_length=120)
    amounts: dict[str, str] = Field(default_factory=dict)
    channel: str | None = Field(
        default=None, max_length=20, examples=["inspection"], description="The channel the "
        "record came through, one the feed declares (default: the feed's only channel)")


FeedQ = Annotated[str | None, Query(max_length=120, description="The agency's feed manifest "
                                   "(needed when the agency has several)")]


JobStateQ = Annotated[str | None, Query(
    pattern="^(queued|running|done|failed|cancelled|interrupted)$",
    description="Only jobs in this state")]


class RecordBatch(BaseModel):
    records: list[RecordIn] = Field(min_length=1, max_length=100_000)


class ObjectionIn(BaseModel):
    target: str = Field(pattern=r"^(record|list|grade):.+$", max_length=200,
                        examples=["record:R123"])
    reason: str = Field(min_length=1, max_length=4000)
    rules: str = Field(default="credit-reporting", description="credit-reporting (20 days) "
                       "or fcra (30 days)")


class RepairIn(BaseModel):
    target: str = Field(pattern=r"^(record|list):.+$", max_length=200)
    reason: str = Field(default="", max_length=4000)


class ResolveIn(BaseModel):
    outcome: str = Field(max_length=20, examples=["upheld"])
    reasons: str = Field(default="", max_length=4000)


class PolicyVersionIn(BaseModel):
    """A new policy version: TOML files by path (as ``xinyong lint`` names them, e.g.
    ``policies/court-debtors/lists.toml``), laid over the running version's files."""

    model_config = {"extra": "forbid", "strict": True}
    files: dict[str, str] = Field(default_factory=dict, max_length=2000,
                                  description="path → TOML text; replaces or adds the file")
    remove: list[str] = Field(default_factory=list, max_length=2000,
                              description="paths of running files to leave out")
    replace_all: bool = Field(default=False, description="the files are the whole version "
                              "(nothing taken from the running one)")


class DecisionBatch(BaseModel):
    items: list[DecisionAsk] = Field(min_length=1, max_length=10_000)
