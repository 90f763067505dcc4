"""What kind of data a category holds (数据类别), and the screen for sensitive data.

Every category declares a :class:`DataClass` from a closed vocabulary: the headings of the
National Basic Catalog of Public Credit Information (全国公共信用信息基础目录, 2021), two
classes outside the catalog that presets keep for study, and the sensitive classes of
personal information (敏感个人信息, PIPL Art. 28; Credit Reporting Regulation Art. 14), which
may never be declared. The bilingual terms of each sensitive class are data
(``policies/national/sensitive_terms.toml``); :class:`SensitiveTerms` finds them in names and
free text. Pure: the loader hands the tables over.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DataClass(StrEnum):
    # headings of the 2021 National Basic Catalog
    REGISTRATION = "registration"  # 登记注册基本信息
    JUDICIAL = "judicial"  # 司法裁判及执行信息 (judgments, enforcement, arbitration)
    LICENSING = "licensing"  # 行政许可信息
    PENALTY = "penalty"  # 行政处罚信息
    COMPULSION = "compulsion"  # 行政强制信息
    INSPECTION = "inspection"  # 监督检查结果信息
    QUALIFICATION = "qualification"  # 职称和职业资格信息
    ABNORMAL_OPERATION = "abnormal_operation"  # 经营（活动）异常名录（状态）信息
    DISHONESTY_LIST = "dishonesty_list"  # 严重失信主体名单信息 (black lists)
    HONOUR = "honour"  # 诚实守信相关荣誉信息 (red lists, commendations)
    CONTRACT = "contract"  # 合同履行信息
    COMMITMENT = "commitment"  # 信用承诺及其履行情况信息
    EVALUATION = "evaluation"  # 信用评价结果信息
    TAX = "tax"  # 纳税信息
    SOCIAL_INSURANCE = "social_insurance"  # 社会保险费和住房公积金缴纳信息
    VOLUNTARY = "voluntary"  # 市场主体自愿提供的信用信息
    # outside the catalog, kept for study
    HISTORICAL = "historical"
    PRIVATE = "private"
    # sensitive personal information: never declarable
    BIOMETRIC = "biometric"
    RELIGION = "religion"
    SPECIFIC_IDENTITY = "specific_identity"
    ETHNICITY = "ethnicity"
    HEALTH = "health"
    GENETIC = "genetic"
    WHEREABOUTS = "whereabouts"
    FINANCIAL_ACCOUNT = "financial_account"
    MINOR_UNDER_14 = "minor_under_14"
    POLITICAL_OPINION = "political_opinion"


CATALOG = frozenset(list(DataClass)[: list(DataClass).index(DataClass.HISTORICAL)])
STUDY = frozenset({DataClass.HISTORICAL, DataClass.PRIVATE})
SENSITIVE = frozenset(set(DataClass) - CATALOG - STUDY)

LABELS: dict[DataClass, str] = {
    DataClass.REGISTRATION: "registration and basic information",
    DataClass.JUDICIAL: "court judgments, enforcement and arbitration",
    DataClass.LICENSING: "administrative licensing",
    DataClass.PENALTY: "administrative penalties",
    DataClass.COMPULSION: "administrative compulsion",
    DataClass.INSPECTION: "inspection results",
    DataClass.QUALIFICATION: "professional titles and qualifications",
    DataClass.ABNORMAL_OPERATION: "abnormal operations list",
    DataClass.DISHONESTY_LIST: "lists of seriously dishonest entities",
    DataClass.HONOUR: "honours for trustworthiness (red lists)",
    DataClass.CONTRACT: "contract performance",
    DataClass.COMMITMENT: "credit commitments and their performance",
    DataClass.EVALUATION: "credit evaluation results",
    DataClass.TAX: "tax",
    DataClass.SOCIAL_INSURANCE: "social insurance and housing fund contributions",
    DataClass.VOLUNTARY: "information the entity provides voluntarily",
    DataClass.HISTORICAL: "local pilots' behaviour outside the catalog, kept for study",
    DataClass.PRIVATE: "a private scorer's data, not public credit information",
    DataClass.BIOMETRIC: "biometric information",
    DataClass.RELIGION: "religious belief",
    DataClass.SPECIFIC_IDENTITY: "specific identity",
    DataClass.ETHNICITY: "ethnicity",
    DataClass.HEALTH: "health data",
    DataClass.GENETIC: "genetic information",
    DataClass.WHEREABOUTS: "whereabouts and location tracks",
    DataClass.FINANCIAL_ACCOUNT: "financial accounts",
    DataClass.MINOR_UNDER_14: "personal information of minors under 14",
    DataClass.POLITICAL_OPINION: "political opinion",
}

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+")
Term = Annotated[str, Field(min_length=1, max_length=80)]


class SensitiveClass(BaseModel):
    """One sensitive class and the words that name it (``[[sensitive_class]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: DataClass
    title: str
    title_zh: str
    sources: tuple[str, ...] = Field(min_length=1, description="The documents naming the class")
    en: tuple[Term, ...] = Field(
        min_length=1, description="English words or phrases, matched as whole words, "
        "case-insensitively, with plural, -ing and -ed forms")
    zh: tuple[Term, ...] = Field(
        min_length=1, description="Chinese terms, matched as substrings (no word boundaries)")
    allow: tuple[Term, ...] = Field(
        default=(), description="Lawful phrases that contain a term; a term inside one of "
        "them does not count (each needs a reason in the file)")

    @model_validator(mode="after")
    def _scripts(self) -> SensitiveClass:
        if self.id not in SENSITIVE:
            raise ValueError(f"{self.id.value!r} is not a sensitive class; terms are kept only for "
                             f"{', '.join(sorted(SENSITIVE))}")
        latin = [t for t in self.en if _CJK.search(t) or not _WORD.search(t.lower())]
        if latin:
            raise ValueError(f"en terms must be Latin words: {latin}")
        han = [t for t in self.zh if not _CJK.search(t)]
        if han:
            raise ValueError(f"zh terms must contain Chinese characters: {han}")
        return self


@dataclass(frozen=True, slots=True)
class TermHit:
    data_class: DataClass
    term: str

    def describe(self) -> str:
        return f"{LABELS[self.data_class]} ({self.data_class.value})"


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _forms(word: str) -> frozenset[str]:
    """The word and its likely bases: prayers → prayer, tested → test, scanning → scan."""
    out = {word}
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"),
                         ("ed", ""), ("ed", "e")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)] + repl
            out.add(base)
            if suffix in ("ing", "ed") and len(base) >= 4 and base[-1] == base[-2]:
                out.add(base[:-1])  # scanned → scan
    return frozenset(out)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@dataclass(frozen=True)
class _Class:
    data_class: DataClass
    en: tuple[tuple[str, tuple[str, ...]], ...]
    zh: tuple[str, ...]
    allow_en: tuple[tuple[str, ...], ...]
    allow_zh: tuple[str, ...]


class SensitiveTerms:
    """The maintained term list: which sensitive class, if any, a name or text refers to."""

    def __init__(self, classes: Iterable[SensitiveClass] = ()):
        self._classes = tuple(
            _Class(c.id,
                   tuple((t, tuple(_words(_normal(t)))) for t in c.en),
                   tuple(_normal(t) for t in c.zh),
                   tuple(tuple(_words(_normal(a))) for a in c.allow if not _CJK.search(a)),
                   tuple(_normal(a) for a in c.allow if _CJK.search(a)))
            for c in classes)

    @property
    def classes(self) -> frozenset[DataClass]:
        return frozenset(c.data_class for c in self._classes)

    def find(self, text: str) -> TermHit | None:
        """The first sensitive term in ``text``: Chinese by substring, English by word."""
        low = _normal(text)
        words = _words(low)
        forms = [_forms(w) for w in words]
        for c in self._classes:
            zh_text = low
            for a in c.allow_zh:
                zh_text = zh_text.replace(a, " ")
            for t in c.zh:
                if t in zh_text:
                    return TermHit(c.data_class, t)
            allowed = _covered(words, forms, c.allow_en)
            for raw, seq in c.en:
                if _at(forms, seq, allowed):
                    return TermHit(c.data_class, raw)
        return None


def _starts(forms: list[frozenset[str]], seq: tuple[str, ...]) -> list[int]:
    n = len(seq)
    return [i for i in range(len(forms) - n + 1)
            if all(seq[k] in forms[i + k] for k in range(n))]


def _covered(words: list[str], forms: list[frozenset[str]],
             allow: tuple[tuple[str, ...], ...]) -> set[int]:
    """Positions of words inside an allowed phrase."""
    out: set[int] = set()
    for seq in allow:
        for i in _starts(forms, seq):
            out.update(range(i, i + len(seq)))
    return out


def _at(forms: list[frozenset[str]], seq: tuple[str, ...], allowed: set[int]) -> bool:
    return any(not allowed.issuperset(range(i, i + len(seq))) for i in _starts(forms, seq))
