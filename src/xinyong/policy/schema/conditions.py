"""Conditions: the data a scheme's overrides and a list's triggers test (categories,
amount tests, link paths, grades, score bounds), never code."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from xinyong.model import LinkRole
from xinyong.policy.schema.common import Id, PeriodField, Strict


class AmountTest(Strict):
    """A test on a record's amounts: ``field >= ge`` or ``field / of >= ge``."""

    field: str
    of: str | None = Field(default=None, description="Divide by this amount (a ratio test)")
    ge: Decimal | None = None
    gt: Decimal | None = None
    le: Decimal | None = None
    lt: Decimal | None = None

    @model_validator(mode="after")
    def _bound(self) -> AmountTest:
        if all(b is None for b in (self.ge, self.gt, self.le, self.lt)):
            raise ValueError("an amount test needs at least one of ge, gt, le, lt")
        return self


_ROLES = {r.value for r in LinkRole}


def _check_path(path: str) -> str:
    for step in path.split("/"):
        base = step.removesuffix("_of")
        if base not in _ROLES:
            raise ValueError(
                f"link path step {step!r} is not a role; use one of "
                f"{', '.join(sorted(_ROLES))}, or ROLE_of to go from the person to the organisation"
            )
    return path


LinkPath = Annotated[
    str,
    BeforeValidator(lambda v: _check_path(v) if isinstance(v, str) else v),
    Field(
        description="Steps separated by '/': 'legal_representative' goes from an organisation "
        "to its legal representative; 'legal_representative_of' goes back"
    ),
]


class Linked(Strict):
    """The condition holds for some subject reachable along ``path`` (its own records only)."""

    path: LinkPath
    when: Condition


class GradeTest(Strict):
    """The subject's grade under ``scheme`` (on its own records) is one of ``grades``."""

    scheme: Id
    grades: tuple[str, ...] = Field(min_length=1)


class Condition(Strict):
    """All given parts must hold. Record parts need one active record satisfying all of them."""

    categories: tuple[Id, ...] = ()
    amounts: tuple[AmountTest, ...] = ()
    window: PeriodField | None = Field(
        default=None, description="The record took effect within this period before as-of"
    )
    registered_within: PeriodField | None = None
    grade: GradeTest | None = Field(
        default=None, description="Grade under a scheme, judged on the subject's own records "
        "(e.g. the other firm of a responsible person rated D)")
    score_min: Decimal | None = None
    score_max: Decimal | None = None
    linked: Linked | None = None
    any: tuple[Condition, ...] = ()
    all: tuple[Condition, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if self.amounts and not self.categories:
            raise ValueError("amount tests need 'categories' naming the records they apply to")
        if not any(getattr(self, f) not in (None, ()) for f in type(self).model_fields):
            raise ValueError("an empty condition would always hold; say what must be true")
        return self


Linked.model_rebuild()
Condition.model_rebuild()
