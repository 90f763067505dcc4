"""The policy language: typed, declarative, validated.

A policy file is TOML. Every section is an array of tables (``[[category]]``,
``[[scheme]]`` …) except ``[preset]``. Each object has an ``id``, an
``effective_from`` date (optionally ``effective_to``, exclusive) and a
``legal_basis``: one or more law ids, optionally ``"law-id#Art. 3"``.

Nothing here is code: conditions are data (category sets, amount tests, link
paths, score bounds), so the same policy can be compiled into SQL for whole
populations.

One module per part of the language: :mod:`.common` (periods, ids, legal bases,
:class:`Versioned`), :mod:`.preset` (the preset, its documents and laws), :mod:`.catalog`
(agencies, categories, actions, measures), :mod:`.conditions`, :mod:`.schemes` (and profile
rules), :mod:`.lists` (and memoranda), :mod:`.repair` (and calendars), :mod:`.feeds` (and
identifier exceptions), :mod:`.file` (:class:`PolicyFile`, ``SECTIONS``). Every public name
is re-exported here.
"""

from __future__ import annotations

from xinyong.policy.schema.catalog import (
    Action,
    Agency,
    AgencyLevel,
    Category,
    Domain,
    Measure,
    MeasureEffect,
    MeasureKind,
    Publicity,
    Severity,
)
from xinyong.policy.schema.common import (
    Citation,
    Id,
    LegalBasis,
    LegalRef,
    PeriodField,
    Strict,
    Versioned,
    cited_document,
)
from xinyong.policy.schema.conditions import (
    AmountTest,
    Condition,
    GradeTest,
    Linked,
    LinkPath,
)
from xinyong.policy.schema.feeds import (
    FEED_FIELDS,
    Feed,
    IdentifierException,
)
from xinyong.policy.schema.file import (
    SECTIONS,
    PolicyFile,
)
from xinyong.policy.schema.lists import (
    Clause,
    Extension,
    ListColour,
    ListRule,
    Memorandum,
    Removal,
    Trigger,
)
from xinyong.policy.schema.preset import (
    Document,
    DocumentKind,
    Law,
    LawRank,
    Preset,
    PresetSource,
    Profile,
    Source,
)
from xinyong.policy.schema.repair import (
    Calendar,
    RepairRule,
)
from xinyong.policy.schema.schemes import (
    Band,
    Bin,
    Conditional,
    Indicator,
    Override,
    ProfileRule,
    Publication,
    Relief,
    Scale,
    Scheme,
    SchemeForm,
    Withdrawn,
)

__all__ = [
    "FEED_FIELDS",
    "SECTIONS",
    "Action",
    "Agency",
    "AgencyLevel",
    "AmountTest",
    "Band",
    "Bin",
    "Calendar",
    "Category",
    "Citation",
    "Clause",
    "Condition",
    "Conditional",
    "Document",
    "DocumentKind",
    "Domain",
    "Extension",
    "Feed",
    "GradeTest",
    "Id",
    "IdentifierException",
    "Indicator",
    "Law",
    "LawRank",
    "LegalBasis",
    "LegalRef",
    "LinkPath",
    "Linked",
    "ListColour",
    "ListRule",
    "Measure",
    "MeasureEffect",
    "MeasureKind",
    "Memorandum",
    "Override",
    "PeriodField",
    "PolicyFile",
    "Preset",
    "PresetSource",
    "Profile",
    "ProfileRule",
    "Publication",
    "Publicity",
    "Relief",
    "Removal",
    "RepairRule",
    "Scale",
    "Scheme",
    "SchemeForm",
    "Severity",
    "Source",
    "Strict",
    "Trigger",
    "Versioned",
    "Withdrawn",
    "cited_document",
]
