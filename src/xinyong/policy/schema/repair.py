"""Credit repair rules (``[[repair_rule]]``) and the working-day calendars (``[[calendar]]``)
that repair and list deadlines count in."""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_validator

from xinyong.policy.schema.common import Id, Strict, Versioned


class RepairRule(Versioned):
    """How credit repair applications (信用修复申请) are handled: the channel, the working days
    to an answer and to the listing agency's decision, and what an application must include."""

    title: str
    channel: str = Field(description="Where objections and repair applications are filed")
    answer_working_days: int | None = Field(
        default=None, ge=1, description="The channel answers the applicant within N working days")
    decision_working_days: int | None = Field(
        default=None, ge=1, description="The agency that made the listing decides within N "
        "working days of receiving the application from the channel")
    commitment_required: bool = Field(
        default=False, description="An application must include a credit commitment letter "
        "(信用承诺书)")
    calendar: Id = "cn"


class Calendar(Strict):
    """Public holidays and make-up working days for working-day arithmetic."""

    id: Id
    title: str
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()
    source: str = ""
    published_from: date | None = Field(
        default=None, description="First day the holiday notices cover")
    published_to: date | None = Field(
        default=None, description="Last day the published notices cover (the end of the last "
        "year the State Council has published); working days past it are flagged")

    @model_validator(mode="after")
    def _covered(self) -> Calendar:
        lo, hi = self.published_from, self.published_to
        if (lo is None) != (hi is None) or (lo is not None and hi is not None and hi < lo):
            raise ValueError("give published_from and published_to together, in order")
        outside = [d for d in (*self.holidays, *self.workdays)
                   if lo is None or hi is None or not lo <= d <= hi]
        if lo is not None and outside:
            raise ValueError(f"{outside[0]} lies outside published_from..published_to")
        return self
