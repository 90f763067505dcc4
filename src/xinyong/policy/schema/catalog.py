"""The catalog: agencies, information categories (信用信息目录), actions and measures."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from xinyong.model import SubjectKind
from xinyong.policy.data_class import DataClass
from xinyong.policy.schema.common import Id, PeriodField, Strict, Versioned
from xinyong.policy.schema.conditions import LinkPath


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
