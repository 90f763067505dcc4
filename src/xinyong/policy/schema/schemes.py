"""Ratings (``[[scheme]]``): indicators, bands, overrides, conditionals, yearly publication,
and the dated profile rules (``[[profile_rule]]``) that withdraw parts of them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from xinyong.model import SubjectKind
from xinyong.policy.schema.common import Id, LegalBasis, PeriodField, Strict, Versioned
from xinyong.policy.schema.conditions import AmountTest, Condition
from xinyong.policy.schema.preset import Profile


class Bin(Strict):
    """A scorecard bin: values up to ``upto`` (inclusive) get ``points``; last bin open."""

    upto: Decimal | None = None
    points: Decimal


class Relief(Strict):
    """Relief for subjects in a situation an agency declared (纾困, e.g. a firm certified in
    difficulty in 2020): a record of one of ``categories`` covers its subject from its
    effective date for ``within``. Explained by the record that declared it."""

    categories: tuple[Id, ...] = Field(min_length=1)
    within: PeriodField


class Indicator(Strict):
    id: Id
    title: str = ""
    categories: tuple[Id, ...] = Field(min_length=1)
    amounts: tuple[AmountTest, ...] = ()
    aggregate: Literal["count", "sum", "max", "exists"] = "count"
    field: str | None = Field(default=None, description="Amount field for sum / max")
    window: PeriodField | None = None
    points: Decimal | None = Field(default=None, description="Points per unit of the value")
    cap: Decimal | None = Field(
        default=None, description="Largest absolute contribution (per-category cap)"
    )
    bins: tuple[Bin, ...] = ()
    weight: Decimal | None = None
    relief: Relief | None = Field(
        default=None, description="Records that took effect while the subject was covered by "
        "this relief count nothing (e.g. late filings by a firm certified in difficulty)")

    @model_validator(mode="after")
    def _shape(self) -> Indicator:
        if (self.points is None) == (not self.bins):
            raise ValueError("an indicator has either 'points' (per unit) or 'bins', not both")
        if self.aggregate in ("sum", "max") and not self.field:
            raise ValueError(f"aggregate '{self.aggregate}' needs 'field'")
        if self.bins:
            ups = [b.upto for b in self.bins[:-1] if b.upto is not None]
            if len(ups) != len(self.bins) - 1 or self.bins[-1].upto is not None:
                raise ValueError("every bin but the last needs 'upto'; the last is open")
            if ups != sorted(ups):
                raise ValueError("bins must be in increasing order of 'upto'")
        return self


class Band(Strict):
    grade: str
    min: Decimal


class Override(Strict):
    """``at_most`` caps the grade; ``grade`` forces it (e.g. a direct-D trigger)."""

    id: Id
    when: Condition
    at_most: str | None = None
    grade: str | None = None
    legal_basis: LegalBasis = Field(min_length=1)


    @model_validator(mode="after")
    def _one(self) -> Override:
        if (self.at_most is None) == (self.grade is None):
            raise ValueError("an override has exactly one of 'at_most' or 'grade'")
        return self


class Conditional(Strict):
    """A grade given instead of the banded one when ``when`` holds (e.g. new entity → M)."""

    id: Id
    when: Condition
    grade: str
    legal_basis: LegalBasis = Field(min_length=1)



class Scale(Strict):
    """Linear scaling of the raw scorecard sum onto [min, max] (e.g. 350–950)."""

    min: Decimal
    max: Decimal


class Publication(Strict):
    """A rating determined once a year for the calendar year before (e.g. the tax credit
    rating, 纳税信用评价: determined each April for the prior year). The grade in force from
    the publication day is the one computed as of the last day of the rated year, on what was
    known by the publication day; a granted re-evaluation (复评) — a record of one of
    ``reassessment`` — recomputes that year's rating from its own effective day."""

    month: int = Field(ge=1, le=12, description="Month of the yearly publication")
    day: int = Field(default=1, ge=1, le=28, description="Day of that month")
    reassessment: tuple[Id, ...] = Field(
        default=(), description="Categories of records that grant a re-evaluation on "
        "application; the rating is recomputed from the record's effective day")

    def latest(self, on: date) -> date:
        """The last publication day on or before ``on``."""
        this_year = date(on.year, self.month, self.day)
        return this_year if this_year <= on else date(on.year - 1, self.month, self.day)


class Withdrawn(Strict):
    """A part of a scheme that a dated profile rule takes out of this version: the categories
    no longer counted by an indicator (all of them: the indicator is gone), or an override or
    conditional that read them. Set by the loader (see :class:`ProfileRule`), never written."""

    part: Literal["indicator", "override", "conditional"]
    id: Id
    categories: tuple[Id, ...] = Field(min_length=1)
    since: date
    rule: Id
    reason: str
    legal_basis: LegalBasis = Field(min_length=1)


class SchemeForm(StrEnum):
    POINTS = "points"
    DEDUCTION = "deduction"
    COMPOSITE = "composite"
    SCORECARD = "scorecard"


class Scheme(Versioned):
    """A rating. One form covers points, deduction, weighted composite and scorecards."""

    title: str
    form: SchemeForm
    subject_kinds: tuple[SubjectKind, ...] = Field(min_length=1)
    regions: tuple[Annotated[str, Field(pattern=r"^\d{2,6}$")], ...] = Field(
        default=(),
        description="GB/T 2260 region-code prefixes of the subjects it applies to (a local "
        "pilot's jurisdiction); empty = nationwide",
    )
    owner: Id = Field(description="Agency that runs the scheme")
    base: Decimal = Decimal(0)
    clamp: tuple[Decimal, Decimal] | None = None
    window: PeriodField | None = Field(
        default=None, description="Only records that took effect within this period count"
    )
    combination: Literal["sum", "weighted"] = "sum"
    grades: tuple[str, ...] = Field(min_length=1, description="All grades, best first")
    bands: tuple[Band, ...] = Field(min_length=1, description="Lowest score of each band")
    indicator: tuple[Indicator, ...] = Field(min_length=1)
    override: tuple[Override, ...] = ()
    conditional: tuple[Conditional, ...] = ()
    scale: Scale | None = None
    max_reasons: int = Field(default=4, ge=0, le=4, description="Principal reasons (Reg B: 4)")
    public: bool = Field(
        default=False, description="Grades shown in the public view; off unless a source says "
        "the grades were published (a person's grade is personal information, PIPL Art. 13)")
    publication: Publication | None = Field(
        default=None, description="Rated once a year for the year before and published "
        "(absent: the grade is computed continuously as of any day)")
    profile: Profile | None = Field(
        default=None, description="The profile whose dated rules bind this scheme (absent: its "
        "preset's profile); a local pilot that claims cn-2021 stops counting non-catalog "
        "behaviour from the 2021 catalog on (see [[profile_rule]])")
    withdrawn: tuple[Withdrawn, ...] = Field(
        default=(), description="Set by the loader, never written: what a profile rule took "
        "out of this version")

    @model_validator(mode="after")
    def _consistent(self) -> Scheme:
        grades = set(self.grades)
        for b in self.bands:
            if b.grade not in grades:
                raise ValueError(f"band grade {b.grade!r} is not in grades")
        for o in self.override:
            g = o.at_most or o.grade
            if g not in grades:
                raise ValueError(f"override {o.id!r} names grade {g!r}, not in grades")
        for c in self.conditional:
            if c.grade not in grades:
                raise ValueError(f"conditional {c.id!r} names grade {c.grade!r}, not in grades")
        if self.combination == "weighted" and any(i.weight is None for i in self.indicator):
            raise ValueError("a weighted scheme needs 'weight' on every indicator")
        if self.form is SchemeForm.SCORECARD and (
            self.scale is None or any(not i.bins for i in self.indicator)
        ):
            raise ValueError("a scorecard needs 'scale' and 'bins' on every indicator")
        ids = [i.id for i in self.indicator]
        if len(ids) != len(set(ids)):
            raise ValueError("indicator ids must be unique within a scheme")
        return self


class ProfileRule(Versioned):
    """A dated rule of a profile that changes what claiming schemes count. ``count_only =
    "national_catalog"``: from ``effective_from``, a scheme that claims ``profile`` counts only
    categories in the National Basic Catalog (the 2021 catalog: behaviour outside it may not be
    included). The loader applies it as a version of each claiming scheme from that day, with
    the parts that read other categories withdrawn; explain says so."""

    title: str
    profile: Profile
    count_only: Literal["national_catalog"] = Field(
        description="Which categories a claiming scheme still counts")
