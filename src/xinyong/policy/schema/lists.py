"""Red and black lists (``[[list_rule]]``) and the joint memoranda (``[[memorandum]]``)
whose clauses attach measures to them."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from xinyong.model import SubjectKind
from xinyong.policy.schema.common import Id, LegalBasis, PeriodField, Strict, Versioned
from xinyong.policy.schema.conditions import AmountTest, LinkPath
from xinyong.policy.schema.schemes import Relief


class Trigger(Strict):
    """What puts a subject on a list: records (with amount tests), a grade, or time on a list."""

    categories: tuple[Id, ...] = ()
    amounts: tuple[AmountTest, ...] = ()
    scheme: Id | None = None
    grades: tuple[str, ...] = ()
    list: Id | None = None
    held_for: PeriodField | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        kinds = [bool(self.categories), self.scheme is not None, self.list is not None]
        if sum(kinds) != 1:
            raise ValueError(
                "a trigger is exactly one of: categories, scheme+grades, list+held_for"
            )
        if self.scheme is not None and not self.grades:
            raise ValueError("a grade trigger needs 'grades'")
        if self.list is not None and self.held_for is None:
            raise ValueError("a list trigger needs 'held_for'")
        if self.amounts and not self.categories:
            raise ValueError("amount tests belong to a category trigger")
        return self


class Extension(Strict):
    """Longer listing for repeated acts: +``by`` per further triggering record, up to ``max``."""

    by: PeriodField
    max: PeriodField


class Removal(Strict):
    rectification_working_days: int | None = Field(
        default=None, ge=0, description="Off the list within N working days of performance"
    )
    application_after: PeriodField | None = Field(
        default=None, description="Early removal (repair) may be applied for after this"
    )
    maximum: PeriodField | None = Field(default=None, description="Ends automatically at this")


class ListColour(StrEnum):
    BLACK = "black"
    RED = "red"


class ListRule(Versioned):
    """A red or black list (红名单 / 黑名单): authority, trigger, duration, removal."""

    title: str
    title_zh: str = ""
    list: Id | None = Field(
        default=None,
        description="The list this rule puts subjects on (default: the rule's id); several "
        "rules may feed one list, e.g. different durations per trigger",
    )
    colour: ListColour
    authority: Id
    subject_kinds: tuple[SubjectKind, ...] = Field(min_length=1)
    regions: tuple[Annotated[str, Field(pattern=r"^\d{2,6}$")], ...] = Field(
        default=(),
        description="GB/T 2260 region-code prefixes of the subjects it applies to (a local "
        "pilot's jurisdiction); empty = nationwide",
    )
    trigger: Trigger
    grace: PeriodField | None = Field(default=None, description="Before publication (宽限期)")
    grace_for: Relief | None = Field(
        default=None, description="The grace applies only to subjects covered by this relief "
        "on the listing date; others are listed at once")
    duration: PeriodField | None = Field(default=None, description="Absent: until removed")
    extension: Extension | None = None
    removal: Removal = Removal()
    notice_required: bool = True
    public_persons: bool = True
    public_organisations: bool = True
    calendar: Id = "cn"

    @property
    def list_id(self) -> str:
        return self.list or self.id


class Clause(Strict):
    """Members of ``list`` get ``measure``, applied by ``applied_by``, extended along links."""

    id: Id
    list: Id
    measure: Id
    applied_by: Id
    extend_to: tuple[LinkPath, ...] = ()
    legal_basis: LegalBasis = Field(min_length=1)
    note: str = ""



class Memorandum(Versioned):
    """A joint reward and punishment memorandum (联合奖惩合作备忘录)."""

    number: str
    title: str
    signed: date
    signatories: tuple[Id, ...] = Field(min_length=1)
    clause: tuple[Clause, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _clauses(self) -> Memorandum:
        ids = [c.id for c in self.clause]
        if len(ids) != len(set(ids)):
            raise ValueError("clause ids must be unique within a memorandum")
        return self
