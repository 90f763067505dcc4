"""The policy language: typed, declarative, validated.

A policy file is TOML. Every section is an array of tables (``[[category]]``,
``[[scheme]]`` …) except ``[preset]``. Each object has an ``id``, an
``effective_from`` date (optionally ``effective_to``, exclusive) and a
``legal_basis``: one or more law ids, optionally ``"law-id#Art. 3"``.

Nothing here is code: conditions are data (category sets, amount tests, link
paths, score bounds), so the same policy can be compiled into SQL for whole
populations.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
    model_validator,
)

from xinyong.model import Channel, LinkRole, SubjectKind
from xinyong.periods import Period
from xinyong.policy.data_class import DataClass, SensitiveClass


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


# --- preset and laws -------------------------------------------------------------


class Profile(StrEnum):
    CN_2021 = "cn-2021"
    EU_AI_ACT = "eu-ai-act"
    HISTORICAL = "historical"


class Source(Strict):
    """An inline source of a draft preset; presets in the repository cite documents instead."""

    id: Id
    title: str
    author: str = ""
    year: int | None = None
    url: str = ""
    note: str = ""


class DocumentKind(StrEnum):
    PRIMARY = "primary"
    """The document itself: a law, rule, notice, standard, official page."""
    SECONDARY = "secondary"
    """A study or report about documents or practice: it is named for what it reports."""


def _doc_date(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


class Document(Strict):
    """An entry of the bibliography (参考文献): a public document that sources cite.

    A legal instrument that objects rest on is a ``[[law]]``; sources may cite either.
    """

    id: Id
    title: str
    title_zh: str = ""
    kind: DocumentKind
    number: str = Field(default="", description="Document number, e.g. 发改财金规〔2021〕1827号")
    issuer: str = Field(default="", description="Issuing body, or the publisher of a study")
    author: str = ""
    date: Annotated[str, BeforeValidator(_doc_date),
                    Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
                          description="Date of issue or publication: YYYY-MM-DD, YYYY-MM or YYYY")]
    url: str = ""
    reports: tuple[Id, ...] = Field(
        default=(), description="For a secondary source: the documents it reports on")
    note: str = ""

    @model_validator(mode="after")
    def _followable(self) -> Document:
        if self.kind is DocumentKind.SECONDARY and not (self.author or self.issuer):
            raise ValueError("a secondary source names its author or publisher (author, issuer)")
        if self.kind is DocumentKind.PRIMARY and not (self.number or self.url):
            raise ValueError("a primary document gives its number or its url, so it can be found")
        return self

    def citation(self) -> str:
        """The full reference a reader can follow."""
        return _reference(self.title, self.title_zh, self.number,
                          self.author or self.issuer, self.date, self.url,
                          self.issuer if self.author else "")


def _source_form(v: Any) -> str:
    return "citation" if isinstance(v, str) else "inline"


PresetSource = Annotated[
    Annotated[Citation, Tag("citation")] | Annotated[Source, Tag("inline")],
    Discriminator(_source_form),
]


class Preset(Strict):
    """One system: its sources and the profile it is meant to satisfy."""

    id: Id
    title: str
    description: str = ""
    profile: Profile = Profile.CN_2021
    voluntary: bool = Field(
        default=False, description="Opt-in programme: schemes apply only to subjects who joined"
    )
    requires: tuple[Id, ...] = ()
    sources: tuple[PresetSource, ...] = Field(
        min_length=1, description="Citations of [[document]] or [[law]] ids (an inline "
        "[[preset.sources]] table is accepted for drafts)")
    illustrative: tuple[str, ...] = Field(
        default=(), description="Plain-language list of the illustrative numbers in this preset"
    )


class LawRank(StrEnum):
    LAW = "law"
    ADMINISTRATIVE_REGULATION = "administrative_regulation"
    JUDICIAL_INTERPRETATION = "judicial_interpretation"
    CENTRAL_POLICY = "central_policy"
    DEPARTMENTAL_RULE = "departmental_rule"
    LOCAL_RULE = "local_rule"
    VILLAGE_RULE = "village_rule"
    PRIVATE_TERMS = "private_terms"
    FOREIGN_LAW = "foreign_law"


class Law(Strict):
    """A legal instrument that policy objects cite."""

    id: Id
    title: str
    title_zh: str = ""
    number: str = ""
    issued: date
    rank: LawRank
    issuer: str = ""
    url: str = ""
    note: str = ""
    illustrative: tuple[str, ...] = Field(
        default=(), description="Fields not documented, e.g. an issue date known only by year")

    def citation(self) -> str:
        """The full reference a reader can follow."""
        day = self.issued.isoformat()
        if "issued" in self.illustrative:
            day += " (date illustrative)"
        number = self.number or ("number not verified" if "number" in self.illustrative else "")
        return _reference(self.title, self.title_zh, number, self.issuer, day, self.url)


def _reference(title: str, title_zh: str, number: str, by: str, day: str, url: str,
               publisher: str = "") -> str:
    parts = [f"{by}, " if by else "", title, f" ({title_zh})" if title_zh else ""]
    parts += [f", {number}" if number else "", f", {publisher}" if publisher else "", f", {day}"]
    parts += [f". {url}" if url else ""]
    return "".join(parts)


# --- agencies, catalog, actions, measures ------------------------------------------


class AgencyLevel(StrEnum):
    CENTRAL = "central"
    PROVINCIAL = "provincial"
    MUNICIPAL = "municipal"
    COUNTY = "county"
    VILLAGE = "village"
    PRIVATE = "private"


class Agency(Versioned):
    name: str
    name_zh: str = ""
    official: bool = True
    level: AgencyLevel = AgencyLevel.CENTRAL
    region: str = Field(default="", pattern=r"^(\d{6})?$")


class Domain(StrEnum):
    """The four target fields of the system (政务诚信, 商务诚信, 社会诚信, 司法公信)."""

    JUDICIAL = "judicial"
    COMMERCIAL = "commercial"
    SOCIAL = "social"
    GOVERNMENT = "government"


class Severity(StrEnum):
    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


class Publicity(Strict):
    """Display period bounds (公示期限) and who is shown publicly."""

    min: PeriodField | None = Field(
        default=None, description="Earliest repair / early removal may be applied for"
    )
    max: PeriodField | None = Field(
        default=None, description="Display ends automatically; absent = not displayed"
    )
    persons: bool = Field(default=False, description="Shown publicly for natural persons")
    organisations: bool = Field(default=True, description="Shown publicly for organisations")


class Category(Versioned):
    """An information category of the catalog (信用信息目录). Nothing else may be recorded."""

    title: str
    title_zh: str = ""
    domain: Domain
    data_class: DataClass = Field(
        description="What the data is: a heading of the 2021 National Basic Catalog, or "
        "'historical' / 'private' for what presets keep for study; sensitive classes are refused"
    )
    severity: Severity
    subject_kinds: tuple[SubjectKind, ...] = Field(min_length=1)
    agencies: tuple[Id, ...] = Field(min_length=1, description="Agencies that may submit it")
    publicity: Publicity = Publicity()
    national_catalog: bool = Field(
        default=False, description="In the National Basic Catalog of Public Credit Information"
    )
    amounts: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], ...] = Field(
        default=(), description="Amount fields a record of this category may carry"
    )


class Action(Strict):
    """Something a subject may ask to do, e.g. buy an air ticket. Decisions are per action."""

    id: Id
    title: str
    context: str = Field(description="Area of life, e.g. transport, consumption, procurement")


class MeasureKind(StrEnum):
    RESTRICT = "restrict"
    REWARD = "reward"
    NOTICE = "notice"


class MeasureEffect(StrEnum):
    DENY = "deny"
    CONDITION = "condition"
    BENEFIT = "benefit"
    NONE = "none"


class Measure(Versioned):
    """One item of the catalog of measures (惩戒措施 / 激励措施)."""

    title: str
    kind: MeasureKind
    effect: MeasureEffect
    actions: tuple[Id, ...] = Field(default=(), description="Actions this measure governs")
    context: str
    basic_list: bool = Field(
        default=False,
        description="In the National Basic List of Punishment Measures (2021, revised 2024)",
    )
    significant: bool = Field(
        default=False, description="Significant effect: a person must confirm (PIPL Art. 24)"
    )
    condition: str = Field(default="", description="What 'allow with conditions' requires")
    subject_kinds: tuple[SubjectKind, ...] = Field(
        default=(), description="Kinds of subject its legal basis lets the measure reach, listed "
        "or reached through a clause's extend_to (empty: not declared)")
    roles: tuple[LinkPath, ...] = Field(
        default=(), description="Link paths along which its legal basis lets the measure reach "
        "beyond the listed subject: 'legal_representative' (法定代表人), 'responsible_person' "
        "(主要负责人, 直接责任人员), 'actual_controller' (实际控制人), or a longer path such as "
        "'responsible_person/responsible_person_of'; empty: the listed subject only")

    @model_validator(mode="after")
    def _kind_effect(self) -> Measure:
        allowed = {
            MeasureKind.RESTRICT: {MeasureEffect.DENY, MeasureEffect.CONDITION},
            MeasureKind.REWARD: {MeasureEffect.BENEFIT},
            MeasureKind.NOTICE: {MeasureEffect.NONE, MeasureEffect.CONDITION},
        }[self.kind]
        if self.effect not in allowed:
            raise ValueError(
                f"a {self.kind} measure has effect {' or '.join(sorted(allowed))}, "
                f"not {self.effect}"
            )
        if self.effect is MeasureEffect.CONDITION and not self.condition:
            raise ValueError("effect 'condition' needs 'condition' to say what is required")
        return self


# --- conditions ---------------------------------------------------------------------


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


# --- schemes --------------------------------------------------------------------------


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


# --- lists and memoranda --------------------------------------------------------------


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


class IdentifierException(Strict):
    """A legal code that fails its checksum, accepted by name (audited)."""

    scheme: Literal["cn-uscc", "cn-ric"]
    value: str
    reason: str
    approved_by: str


class PolicyFile(Strict):
    """The content of one policy TOML file."""

    preset: Preset | None = None
    law: tuple[Law, ...] = ()
    document: tuple[Document, ...] = ()
    agency: tuple[Agency, ...] = ()
    category: tuple[Category, ...] = ()
    action: tuple[Action, ...] = ()
    measure: tuple[Measure, ...] = ()
    list_rule: tuple[ListRule, ...] = ()
    memorandum: tuple[Memorandum, ...] = ()
    scheme: tuple[Scheme, ...] = ()
    profile_rule: tuple[ProfileRule, ...] = ()
    calendar: tuple[Calendar, ...] = ()
    feed: tuple[Feed, ...] = ()
    repair_rule: tuple[RepairRule, ...] = ()
    identifier_exception: tuple[IdentifierException, ...] = ()
    sensitive_class: tuple[SensitiveClass, ...] = ()


SECTIONS = tuple(n for n in PolicyFile.model_fields if n != "preset")

Linked.model_rebuild()
Measure.model_rebuild()
Condition.model_rebuild()
