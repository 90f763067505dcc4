"""A preset's header and what it rests on: the profile it claims, its sources, the
bibliography (``[[document]]``) and the laws (``[[law]]``)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from xinyong.policy.schema.common import Citation, Id, Strict


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
