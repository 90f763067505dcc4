"""The nouns of the credit platform as immutable values. No IO here.

Policy nouns (catalog, schemes, list rules, measures, memoranda) live in
:mod:`xinyong.policy.schema`; this module holds the facts they are applied to
(subjects, links, records, events) and what evaluation derives from them
(list entries, standings, decisions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from xinyong.ids import Identifier


class SubjectKind(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"
    PUBLIC_BODY = "public_body"
    SOCIAL_ORG = "social_org"


class LinkRole(StrEnum):
    """A dated role of a person (or firm) in an organisation."""

    LEGAL_REPRESENTATIVE = "legal_representative"
    """法定代表人."""
    RESPONSIBLE_PERSON = "responsible_person"
    """负责人 — e.g. the person in charge of finance in tax rules."""
    SHAREHOLDER = "shareholder"
    ACTUAL_CONTROLLER = "actual_controller"
    """实际控制人."""


class EventKind(StrEnum):
    RECTIFIED = "rectified"
    """The obligation was performed (履行)."""
    REPAIRED = "repaired"
    """Credit repair granted (信用修复)."""
    REVOKED = "revoked"
    """The record was wrong: treated as if it never existed from the event on."""
    CORRECTED = "corrected"
    """Amounts corrected; the record otherwise stands."""


@dataclass(frozen=True, slots=True)
class Subject:
    """A person, enterprise, public body or social organisation.

    ``opt_ins`` names the voluntary programmes (e.g. ``honest-shanghai``) the subject
    joined, with the date; voluntary schemes are evaluated only for them.
    """

    id: str
    kind: SubjectKind
    name: str
    region: str
    identifiers: tuple[Identifier, ...] = ()
    registered: date | None = None
    opt_ins: tuple[tuple[str, date], ...] = ()

    def opted_in(self, programme: str, on: date) -> bool:
        return any(p == programme and since <= on for p, since in self.opt_ins)

    @property
    def is_person(self) -> bool:
        return self.kind is SubjectKind.PERSON


@dataclass(frozen=True, slots=True)
class Link:
    """``party`` holds ``role`` in ``organisation`` from ``start`` until ``end`` (exclusive).

    ``recorded_at`` is when the platform learned of it (transaction time): a link registered
    later, even back-dated, does not change what was known before.
    """

    organisation: str
    party: str
    role: LinkRole
    start: date
    end: date | None = None
    recorded_at: datetime | None = None

    def holds_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


class Channel(StrEnum):
    """How a record reached the shared platform (全国信用信息共享平台): the channel it was
    collected through. A closed vocabulary; each feed manifest declares the channels its rows
    come through (docs/decisions.md gives the documents behind each value)."""

    ADMINISTRATIVE = "administrative"
    """行政管理信息: an agency pushes its own decision (licence, penalty, compulsion, listing,
    tax decision). The normal case, and the default."""
    JUDICIAL = "judicial"
    """司法裁判及执行信息: a court's judgment or enforcement decision."""
    SELF_DECLARED = "self_declared"
    """自主申报 / 信用承诺: the subject's own filing, report or credit commitment."""
    INSPECTION = "inspection"
    """监督检查: the result of an inspection, e.g. a 双随机、一公开 random check."""
    MONITORING = "monitoring"
    """信用监测: found by monitoring (collection systems, early warning), not by a decision
    on a case."""
    RECORDER = "recorder"
    """A local pilot's designated recorder writes down deeds seen or reported (a village's
    record keeper): no administrative decision stands behind the record."""
    UNRECORDED = "unrecorded"
    """Written before the ledger recorded channels (migration 0006): unknown, not guessed."""


@dataclass(frozen=True, slots=True)
class Record:
    """One piece of credit information from one agency about one subject (信用信息), and the
    channel it came through."""

    id: str
    subject: str
    category: str
    agency: str
    act_date: date
    effective: date
    document_no: str
    legal_basis: str
    recorded_at: datetime
    amounts: Mapping[str, Decimal] = field(default_factory=dict)
    channel: Channel = Channel.ADMINISTRATIVE


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """A later change to a record: rectified, repaired, revoked or corrected."""

    id: str
    record: str
    kind: EventKind
    effective: date
    recorded_at: datetime
    note: str = ""
    amounts: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DueProcess:
    """The platform's due-process state at the evaluation time (open objections, reviewers'
    confirmations). ``None`` in evaluate means the documented rules alone, as the simulator
    runs them; the platform (ledger) always passes one.

    ``disputed`` holds keys of items under an open objection (异议): ``record:<record id>``,
    ``list:<subject id>:<list id>`` (the subject's entry on that list) and
    ``grade:<subject id>:<scheme id>`` (see :func:`record_key`, :func:`list_key`,
    :func:`grade_key`). Disputing marks; it does not suspend anything by itself.
    ``confirmed`` holds :attr:`ListEntry.key` of entries a reviewer has confirmed for
    significant measures (PIPL Art. 24: not applied by the automated path alone).
    """

    disputed: frozenset[str] = frozenset()
    confirmed: frozenset[str] = frozenset()
    noticed: frozenset[str] | None = None
    """:attr:`ListEntry.key` of entries whose listing notice has been served; ``None`` when
    notices are not tracked. An entry whose rule requires a notice is published only after."""


def record_key(record: str) -> str:
    return f"record:{record}"


def list_key(subject: str, list_id: str) -> str:
    return f"list:{subject}:{list_id}"


def grade_key(subject: str, scheme: str) -> str:
    return f"grade:{subject}:{scheme}"


# --- derived: named tuples, immutable and cheap to build on every evaluation ----------


class EntryStatus(StrEnum):
    PENDING = "pending"
    """Decided but in the grace period before publication (宽限期)."""
    ACTIVE = "active"
    ENDED = "ended"


class ListEntry(NamedTuple):
    """Membership of a red or black list as a dated interval (cf. followthemoney Sanction)."""

    list: str
    rule: str
    subject: str
    listed_on: date
    start: date
    planned_end: date | None
    end: date | None
    status: EntryStatus
    end_reason: str | None
    records: tuple[str, ...]
    earliest_application: date | None = None
    basis: str = "records"
    lift: tuple[str, ...] = ()
    legal_basis: tuple[str, ...] = ()

    def active_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)

    @property
    def key(self) -> str:
        """``<list>:<subject>:<start>:<records>``: what a reviewer confirms and a notice names
        (:attr:`DueProcess.confirmed`). The records are part of it because two entries can
        start on the same day, and a person's confirmation of one is not of the other."""
        return f"{self.list}:{self.subject}:{self.start.isoformat()}:{'+'.join(self.records)}"


class Contribution(NamedTuple):
    indicator: str
    value: Decimal
    points: Decimal
    records: tuple[str, ...]
    shortfall: Decimal = Decimal(0)
    waived: tuple[str, ...] = ()
    """Records of the indicator a relief covered: they count nothing."""
    relieved_by: tuple[str, ...] = ()
    """The records that declared the relief (e.g. a certification of difficulty)."""


class GradeAdjustment(NamedTuple):
    """An override or conditional grade that changed the banded grade."""

    rule: str
    kind: str  # "at_most" | "grade" | "conditional"
    grade: str
    records: tuple[str, ...]
    legal_basis: tuple[str, ...]
    via: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rating:
    """A subject's result under one scheme."""

    scheme: str
    score: Decimal
    band_grade: str
    grade: str
    contributions: tuple[Contribution, ...]
    adjustments: tuple[GradeAdjustment, ...]
    principal_reasons: tuple[str, ...] = ()
    public: bool = True
    disputed: bool = False
    """The grade, or a record behind a contribution or adjustment, is under objection."""
    period_end: date | None = None
    """For a rating published once a year: the last day of the rated year."""
    assessed_on: date | None = None
    """For a published rating: the publication or re-evaluation day it is valid from."""
    reassessed_by: str | None = None
    """The record granting the re-evaluation the rating comes from, if any."""

    @property
    def records(self) -> tuple[str, ...]:
        """The records behind the rating: its contributions', then its adjustments', each
        once, in order (the re-evaluation record is :attr:`reassessed_by`)."""
        return tuple(dict.fromkeys([r for c in self.contributions for r in c.records]
                                   + [r for a in self.adjustments for r in a.records]))


class AppliedMeasure(NamedTuple):
    """A measure in force for a subject because of a list entry and a memorandum clause."""

    measure: str
    kind: str
    effect: str
    clause: str
    memorandum: str
    memorandum_number: str
    applied_by: str
    actions: tuple[str, ...]
    legal_basis: tuple[str, ...]
    """Of the measure, the clause, the memorandum, the list rule and the records."""
    lift: tuple[str, ...]
    entry: ListEntry
    via: tuple[str, ...] = ()
    """The link path (e.g. ``legal_representative``) by which the measure reached the subject."""
    listed_subject: str = ""
    pending_review: bool = False
    """Significant and its entry not confirmed by a reviewer (only when due process is given)."""


class DisplayedRecord(NamedTuple):
    """A record on public display and until when (公示期)."""

    record: str
    category: str
    until: date
    earliest_repair: date


@dataclass(frozen=True)
class Standing:
    """Everything that holds for one subject at one instant."""

    subject: Subject
    as_of: date
    known_at: datetime
    policy_version: str
    ratings: Mapping[str, Rating]
    entries: tuple[ListEntry, ...]
    measures: tuple[AppliedMeasure, ...]
    records: Mapping[str, Record]
    events: Mapping[str, tuple[RecordEvent, ...]]
    displayed: tuple[DisplayedRecord, ...] = ()
    by_action: Mapping[str, tuple[AppliedMeasure, ...]] = field(default_factory=dict)
    actions: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()
    disputed: frozenset[str] = frozenset()
    """Keys of :attr:`DueProcess.disputed` bearing on this standing: its records, and the lists
    and grades of the subject, of the subjects its measures come from and of the subjects its
    ratings looked at through links."""
    unnoticed: frozenset[str] = frozenset()
    """Keys of the subject's entries that need a listing notice (告知) not yet served: they are
    not published (see :attr:`DueProcess.noticed`)."""

    @property
    def active_entries(self) -> tuple[ListEntry, ...]:
        return tuple(e for e in self.entries if e.status is EntryStatus.ACTIVE)


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    CONDITIONS = "allow_with_conditions"
    REVIEW = "refer_to_reviewer"
    """A significant measure awaits a person's confirmation: nothing is denied automatically."""


class Reason(NamedTuple):
    """Why a measure bears on a decision, down to the source records and legal basis."""

    measure: str
    kind: str
    effect: str
    clause: str
    memorandum: str
    memorandum_number: str
    applied_by: str
    list: str
    entry_start: date
    entry_planned_end: date | None
    records: tuple[str, ...]
    legal_basis: tuple[str, ...]
    lift: tuple[str, ...]
    via: tuple[str, ...] = ()
    listed_subject: str = ""
    overridden: bool = False
    disputed: tuple[str, ...] = ()
    """Sorted keys of disputed items the reason rests on: its records and its list entry."""
    pending_review: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    subject: str
    action: str
    on: date
    effect: Effect
    measures: tuple[str, ...]
    reasons: tuple[Reason, ...]
