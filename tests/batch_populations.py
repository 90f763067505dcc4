"""Hypothesis strategies for small valid populations over every preset, with their dates on
the boundaries the policy draws (issue 12's differential test).

Everything is read off the policy: the as-of days are its version changes, publication days,
the Covid window and 2019-12-16, each ±1; a record's effective day is one whose window,
grace, duration, extension, ``held_for``, ``application_after``, maximum or publicity period
ends on as-of ±1, or a month end; a performance is one whose N working days (the policy's
calendar, holidays and make-up days) end on as-of ±1; amounts sit on the thresholds of the
amount tests, ratios and bins. Subjects of every kind live in the local pilots' regions;
persons opt in to voluntary presets; links begin and end around as-of; records are handed in
twice, recorded late and changed by several events.

Lists are short and every choice puts its plainest value first, so examples shrink to a few
lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from batch_compare import Case
from xinyong.ids import IdScheme, make_ric, make_uscc, validate
from xinyong.model import (
    EventKind,
    Link,
    LinkRole,
    Record,
    RecordEvent,
    Subject,
    SubjectKind,
)
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.policy.schema import AmountTest, Category, Condition
from xinyong.reference.regions import county_regions
from xinyong.sim.plan import agency_prefixes

DAY = timedelta(days=1)
COVID = (date(2020, 1, 24), date(2023, 1, 1))
COURT_RULES_2019 = date(2019, 12, 16)

# region prefixes of the local pilots, then places no pilot covers; the first is the plainest
PILOTS = ("3213", "3205", "3502", "3501", "371082", "31", "370283", "4403", "4101", "320324")
ELSEWHERE = ("11", "51")

KINDS = (SubjectKind.PERSON, SubjectKind.ENTERPRISE, SubjectKind.PUBLIC_BODY,
         SubjectKind.SOCIAL_ORG)
_ID_PREFIX = {SubjectKind.PERSON: "P", SubjectKind.ENTERPRISE: "E",
              SubjectKind.PUBLIC_BODY: "G", SubjectKind.SOCIAL_ORG: "S"}
_USCC_AUTHORITY = {SubjectKind.ENTERPRISE: "9", SubjectKind.PUBLIC_BODY: "1",
                   SubjectKind.SOCIAL_ORG: "5"}
EVENT_KINDS = (EventKind.REVOKED, EventKind.RECTIFIED, EventKind.CORRECTED, EventKind.REPAIRED)
_CENT = Decimal("0.01")


def _near(d: date) -> tuple[date, date, date]:
    return (d, d - DAY, d + DAY)


def _month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - DAY


def _after(chain: tuple[Period, ...], start: date) -> date:
    for p in chain:
        start = p.after(start)
    return start


def _conditions(c: Condition) -> Iterable[Condition]:
    yield c
    if c.linked is not None:
        yield from _conditions(c.linked.when)
    for sub in (*c.any, *c.all):
        yield from _conditions(sub)


@dataclass(eq=False)
class Boundaries:
    """What the strategies read off one policy, computed once."""

    policy: Policy
    as_of_days: tuple[date, ...] = ()
    chains: tuple[tuple[Period, ...], ...] = ()
    """Periods applied one after another from a record's effective day (a rule's grace, then
    its duration, then its extensions...): where they end on as-of ±1 is a boundary."""
    registered_within: tuple[Period, ...] = ()
    working_days: tuple[int, ...] = ()
    amounts: dict[str, tuple[Decimal, ...]] = field(default_factory=dict)
    ratios: dict[tuple[str, str], tuple[Decimal, ...]] = field(default_factory=dict)
    publications: tuple[tuple[int, int], ...] = ()
    regions: tuple[str, ...] = ()
    reads: dict[tuple[SubjectKind, str], frozenset[str]] = field(default_factory=dict)
    """Categories something applying to such a subject reads (a scheme, a list rule)."""
    local: dict[tuple[SubjectKind, str], frozenset[str]] = field(default_factory=dict)
    """Of those, what a local pilot's scheme or list (one with regions) reads."""
    voluntary: tuple[str, ...] = ()
    agency_prefix: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.policy
        schemes, rules, cats = p.all("scheme"), p.all("list_rule"), p.all("category")
        chains: set[tuple[Period, ...]] = set()
        within: set[Period] = set()
        conds: list[Condition] = []
        for s in schemes:
            conds += [c for o in (*s.override, *s.conditional) for c in _conditions(o.when)]
            for w in (s.window, *(i.window for i in s.indicator),
                      *(i.relief.within for i in s.indicator if i.relief)):
                if w is not None:
                    chains.add((w,))
        for c in conds:
            if c.window is not None:
                chains.add((c.window,))
            if c.registered_within is not None:
                within.add(c.registered_within)
        zero = Period()
        for r in rules:
            g = r.grace or zero
            chains.add((g,))
            if r.grace_for is not None:
                chains.add((r.grace_for.within,))
            ends = [r.duration, r.removal.maximum, r.removal.application_after, r.trigger.held_for]
            for e in ends:
                if e is not None:
                    chains.add((g, e))
            if r.duration is not None and r.extension is not None:
                x = r.extension
                chains.update({(g, r.duration, x.by), (g, r.duration, x.by, x.by),
                               (g, r.duration, x.max)})
        for c in cats:
            chains.update((q,) for q in (c.publicity.min, c.publicity.max) if q is not None)
        self.chains = tuple(sorted(chains, key=lambda ch: [str(q) for q in ch]))
        self.registered_within = tuple(sorted(within, key=str))
        self.working_days = tuple(sorted({r.removal.rectification_working_days for r in rules
                                          if r.removal.rectification_working_days}))
        self._amounts(schemes, rules, conds)
        self.publications = tuple(sorted({(s.publication.month, s.publication.day)
                                          for s in schemes if s.publication}))
        self._as_of_days()
        regions = county_regions()
        self.regions = tuple(next(r.code for r in regions if r.code.startswith(pre))
                             for pre in (*PILOTS, *ELSEWHERE))
        self.voluntary = tuple(sorted(k for k, v in p.presets.items() if v.voluntary))
        self.agency_prefix = agency_prefixes(p)
        for kind in KINDS:
            for region in self.regions:
                self.reads[kind, region] = self._read(kind, region, local=False)
                self.local[kind, region] = self._read(kind, region, local=True)

    def _amounts(self, schemes: list[Any], rules: list[Any], conds: list[Condition]) -> None:
        tests: list[AmountTest] = [t for r in rules for t in r.trigger.amounts]
        tests += [t for s in schemes for i in s.indicator for t in i.amounts]
        tests += [t for c in conds for t in c.amounts]
        values: dict[str, set[Decimal]] = {}
        ratios: dict[tuple[str, str], set[Decimal]] = {}
        for t in tests:
            for bound in (t.ge, t.gt, t.le, t.lt):
                if bound is None:
                    continue
                if t.of is None:
                    values.setdefault(t.field, set()).update({bound - _CENT, bound, bound + _CENT})
                else:
                    ratios.setdefault((t.field, t.of), set()).add(bound)
        for s in schemes:  # a scorecard's bin edges on a summed or largest amount
            for i in s.indicator:
                if i.field and i.bins:
                    values.setdefault(i.field, set()).update(
                        v for b in i.bins if b.upto is not None for v in (b.upto, b.upto + _CENT))
        self.amounts = {k: tuple(sorted(v)) for k, v in sorted(values.items())}
        self.ratios = {k: tuple(sorted(v)) for k, v in sorted(ratios.items())}

    def _as_of_days(self) -> None:
        p = self.policy
        days: set[date] = set()
        for section in ("scheme", "list_rule", "category", "memorandum", "measure"):
            for v in p.all(section):
                for d in (v.effective_from, v.effective_to):
                    if d is not None and date(2013, 1, 1) <= d <= date(2026, 12, 31):
                        days.update(_near(d))
        for d in (*COVID, COURT_RULES_2019):
            days.update(_near(d))
        for month, day_ in self.publications:
            for year in range(2015, 2027):
                days.update(_near(date(year, month, day_)))
        days.update({date(2024, 2, 29), date(2025, 1, 31), date(2025, 12, 31)})
        # the first working day after a long holiday (Spring Festival, National Day)
        cal = p.calendar("cn")
        d = date(2019, 1, 1)
        while d < date(2026, 1, 1):
            run = 0
            while not cal.is_working_day(d):
                run, d = run + 1, d + DAY
            if run >= 4:
                days.update(_near(d))
            d += DAY
        plain = date(2025, 12, 31)  # many schemes and lists in force: the first to shrink to
        self.as_of_days = (plain, *sorted(days - {plain}))

    def _read(self, kind: SubjectKind, region: str, local: bool) -> frozenset[str]:
        """Categories something that applies to such a subject reads (if ``local``: a
        scheme or list of a local pilot)."""
        p = self.policy
        out: set[str] = set()
        for s in p.all("scheme"):
            if local and not s.regions:
                continue
            if kind in s.subject_kinds and (not s.regions or region.startswith(s.regions)):
                out.update(c for i in s.indicator for c in i.categories)
                out.update(c for i in s.indicator if i.relief for c in i.relief.categories)
                for o in (*s.override, *s.conditional):
                    out.update(c for cond in _conditions(o.when) for c in cond.categories)
                if s.publication:
                    out.update(s.publication.reassessment)
        for r in p.all("list_rule"):
            if local and not r.regions:
                continue
            if kind in r.subject_kinds and (not r.regions or region.startswith(r.regions)):
                out.update(r.trigger.categories)
                if r.grace_for is not None:
                    out.update(r.grace_for.categories)
        return frozenset(out)

    def reaches(self, cat: Category, region: str) -> str | None:
        """The first of the category's agencies whose jurisdiction holds ``region``."""
        for a in cat.agencies:
            if region.startswith(self.agency_prefix.get(a, "")):
                return a
        return None

    # --- dates relative to an as-of -------------------------------------------------------

    @cache  # noqa: B019 - one Boundaries per policy, kept for the test session
    def record_days(self, as_of: date) -> tuple[date, ...]:
        """Effective days on a boundary of ``as_of``: as-of ±1 first, then every day whose
        chain of periods ends on as-of ±1 (on it, too, for the last rated year of a yearly
        publication), month ends and February 29 near them."""
        targets = set(_near(as_of))
        for month, day_ in self.publications:
            pub = date(as_of.year, month, day_)
            pub = pub if pub <= as_of else date(as_of.year - 1, month, day_)
            targets.update(_near(date(pub.year - 1, 12, 31)))
        found: set[date] = set()
        for chain in self.chains:
            span = sum(q.approx_days() for q in chain)
            for t in targets:
                for k in range(-8, 9):
                    e = t - timedelta(days=span + k)
                    if _after(chain, e) in targets:
                        found.add(e)
        found.update(_month_end(d) for d in list(found))
        first = (as_of, as_of - DAY, as_of + DAY)
        return (*first, *sorted(found - set(first)))

    @cache  # noqa: B019
    def performed_days(self, as_of: date, effective: date) -> tuple[date, ...]:
        """Days an obligation is performed on: the record's day, as-of ±1, and days whose
        N working days (holidays and make-up days of the calendar) end on as-of ±1."""
        cal = self.policy.calendar("cn")
        out: set[date] = {effective, effective + DAY, *_near(as_of)}
        for n in self.working_days:
            for k in range(0, 3 * n + 20):
                d = as_of - timedelta(days=k)
                if cal.add_working_days(d, n) in _near(as_of):
                    out.add(d)
        first = (effective, as_of)
        return (*first, *sorted(out - set(first)))

    @cache  # noqa: B019
    def repaired_days(self, as_of: date, effective: date) -> tuple[date, ...]:
        """Days a repair is granted on: the periods after the record's day (minimum display,
        application_after after grace) ±1, and as-of ±1."""
        out: set[date] = set(_near(as_of))
        for chain in self.chains:
            out.update(_near(_after(chain, effective)))
        first = (as_of,)
        return (*first, *sorted(out - set(first)))


_BOUNDARIES: dict[int, Boundaries] = {}


def boundaries(policy: Policy) -> Boundaries:
    found = _BOUNDARIES.get(id(policy))
    if found is None or found.policy is not policy:
        found = _BOUNDARIES[id(policy)] = Boundaries(policy)
    return found


# --- strategies --------------------------------------------------------------------------


def _identifier(kind: SubjectKind, region: str, n: int) -> Any:
    """A valid identifier, distinct for distinct ``n`` (below 1,000)."""
    if kind is SubjectKind.PERSON:
        since = next(r.since for r in county_regions() if r.code == region)
        return validate(IdScheme.RIC, make_ric(region, f"{max(1985, since)}0101", n))
    body = f"{n:08d}"
    return validate(IdScheme.USCC, make_uscc(_USCC_AUTHORITY[kind], "1", region, body))


def _money(b: Boundaries, name: str) -> st.SearchStrategy[Decimal]:
    edges = b.amounts.get(name, ())
    return st.sampled_from((Decimal(100), *edges, Decimal(0), Decimal("0.01")))


@st.composite
def _amounts(draw: st.DrawFn, b: Boundaries, fields: tuple[str, ...]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for name in fields:
        if draw(st.integers(0, 5)) == 5:
            continue  # a field left out: an amount test on it fails
        out[name] = draw(_money(b, name))
    for (num, den), bounds in b.ratios.items():
        if num in out and den in fields and draw(st.booleans()):
            bound = draw(st.sampled_from(bounds))
            exact = (out[num] / bound).quantize(_CENT)
            out[den] = draw(st.sampled_from((exact, exact + _CENT, exact - _CENT, Decimal(0))))
    return out


def _cut(case_known: datetime | None, as_of: date) -> datetime:
    return case_known or datetime.combine(as_of, time.max)


def _stamps(day: date, known: datetime, hour: int) -> st.SearchStrategy[datetime]:
    """When something of ``day`` is recorded: that day, exactly at the known-at cut, just
    after it, or days later."""
    return st.sampled_from((datetime.combine(day, time(hour)), known,
                            known + timedelta(microseconds=1),
                            datetime.combine(day + 3 * DAY, time(hour))))


@st.composite
def _event(draw: st.DrawFn, b: Boundaries, rec: Record, cat: Category, as_of: date,
           known: datetime, name: str) -> RecordEvent:
    kind = draw(st.sampled_from(EVENT_KINDS))
    amounts: dict[str, Decimal] = {}
    if kind is EventKind.RECTIFIED:
        day = draw(st.sampled_from(b.performed_days(as_of, rec.effective)))
    elif kind is EventKind.REPAIRED:
        day = draw(st.sampled_from(b.repaired_days(as_of, rec.effective)))
    else:
        day = draw(st.sampled_from((as_of, as_of + DAY, as_of - DAY, rec.effective)))
        if kind is EventKind.CORRECTED:
            amounts = draw(_amounts(b, cat.amounts))
    return RecordEvent(name, rec.id, kind, day, draw(_stamps(day, known, 10)),
                       amounts=amounts)


@dataclass
class _Numbers:
    """Ids of one population: its tag, then a number (``a-R001``, ``a-V001``)."""

    tag: str
    records: int = 0
    events: int = 0


@st.composite
def _records(draw: st.DrawFn, b: Boundaries, s: Subject, as_of: date, known: datetime,
             numbers: _Numbers) -> tuple[list[Record], list[RecordEvent]]:
    records: list[Record] = []
    events: list[RecordEvent] = []
    reads, local = b.reads[s.kind, s.region], b.local[s.kind, s.region]
    for _ in range(draw(st.integers(0, 3))):
        effective = draw(st.sampled_from(b.record_days(as_of)))
        cats = sorted((c for c in b.policy.at(effective).categories.values()
                       if s.kind in c.subject_kinds and b.reaches(c, s.region)),
                      key=lambda c: c.id)
        # a local pilot's records half the time, then what national rules read, then others
        pools = ([c for c in cats if c.id in local], [c for c in cats if c.id in reads],
                 [c for c in cats if c.id not in reads])
        pick = draw(st.integers(0, 19))
        order = (0, 1, 2) if pick < 10 else (1, 0, 2) if pick < 17 else (2, 1, 0)
        pool = next((pools[k] for k in order if pools[k]), None)
        if pool is None:
            continue
        cat = draw(st.sampled_from(pool))
        numbers.records += 1
        agency = b.reaches(cat, s.region)
        assert agency is not None
        rec = Record(
            id=f"{numbers.tag}R{numbers.records:03d}", subject=s.id, category=cat.id, agency=agency,
            act_date=effective - draw(st.sampled_from((0, 1, 30))) * DAY, effective=effective,
            document_no=f"DOC-{numbers.records}", legal_basis=cat.legal_basis[0],
            recorded_at=draw(_stamps(effective, known, 9)),
            amounts=draw(_amounts(b, cat.amounts)))
        records.append(rec)
        if draw(st.integers(0, 5)) == 5:  # handed in twice: a later copy, maybe changed
            later = rec.recorded_at + draw(st.sampled_from((timedelta(hours=1), 400 * DAY)))
            changed = draw(st.booleans())
            records.append(Record(
                rec.id, rec.subject, rec.category, rec.agency, rec.act_date,
                effective - 30 * DAY if changed else effective, rec.document_no,
                rec.legal_basis, later, draw(_amounts(b, cat.amounts)) if changed
                else rec.amounts))
        for _ in range(draw(st.integers(0, 3))):
            numbers.events += 1
            events.append(draw(_event(b, rec, cat, as_of, known,
                                      f"{numbers.tag}V{numbers.events:03d}")))
    return records, events


@st.composite
def _subject(draw: st.DrawFn, b: Boundaries, kind: SubjectKind, n: int, as_of: date,
             tag: str, serial: int) -> Subject:
    region = draw(st.sampled_from(b.regions))
    registered = None
    if kind is not SubjectKind.PERSON:
        new = [w.before(as_of) + k * DAY for w in b.registered_within for k in (-1, 0, 1)]
        registered = draw(st.sampled_from((date(2010, 1, 1), *_near(as_of), *new)))
    opt_ins: list[tuple[str, date]] = []
    if kind in (SubjectKind.PERSON, SubjectKind.ENTERPRISE):
        for programme in b.voluntary:
            if draw(st.booleans()):
                opt_ins.append((programme, draw(st.sampled_from(
                    (date(2016, 1, 1), *_near(as_of))))))
    return Subject(id=f"{tag}{_ID_PREFIX[kind]}{n}", kind=kind, name=f"{kind.value} {n}",
                   region=region, identifiers=(_identifier(kind, region, serial),),
                   registered=registered, opt_ins=tuple(opt_ins))


@st.composite
def _links(draw: st.DrawFn, subjects: list[Subject], as_of: date) -> list[Link]:
    orgs = [s for s in subjects if not s.is_person]
    if not orgs:
        return []
    out: list[Link] = []
    for _ in range(draw(st.integers(0, 4))):
        org = draw(st.sampled_from(orgs))
        party = draw(st.sampled_from([s for s in subjects if s.id != org.id] or [org]))
        if party.id == org.id:
            continue
        role = draw(st.sampled_from(tuple(LinkRole)))
        start = draw(st.sampled_from((date(2000, 1, 1), *_near(as_of))))
        end = draw(st.sampled_from((None, *_near(as_of), as_of + 400 * DAY)))
        if end is not None and end <= start:
            end = None
        out.append(Link(org.id, party.id, role, start, end))
    return out


POPULATIONS = 10
"""Independent populations rated together in one example (one query for all, as the batch
evaluator is meant to run): ``a-``, ``b-``, ... before every id keeps them apart."""


def tag(k: int) -> str:
    return f"{chr(ord('a') + k)}-"


@st.composite
def _population(draw: st.DrawFn, b: Boundaries, as_of: date, known: datetime,
                k: int) -> tuple[list[Subject], list[Link], list[Record], list[RecordEvent]]:
    kinds = [SubjectKind.PERSON] * draw(st.integers(1, 3))
    kinds += draw(st.lists(st.sampled_from(KINDS[1:]), max_size=3))
    count: dict[SubjectKind, int] = {}
    subjects: list[Subject] = []
    for kind in kinds:
        count[kind] = count.get(kind, 0) + 1
        subjects.append(draw(_subject(b, kind, count[kind], as_of, tag(k),
                                      10 * k + len(subjects))))
    numbers = _Numbers(tag(k))
    records: list[Record] = []
    events: list[RecordEvent] = []
    for s in subjects:
        rs, evs = draw(_records(b, s, as_of, known, numbers))
        records += rs
        events += evs
    return subjects, draw(_links(subjects, as_of)), records, events


@st.composite
def cases(draw: st.DrawFn, policy: Policy, populations: int = POPULATIONS) -> Case:
    """``populations`` small valid populations on the policy's boundaries, each on its own
    (no link between two), and the as-of (and known-at) they are rated on."""
    b = boundaries(policy)
    as_of = draw(st.sampled_from(b.as_of_days))
    which = draw(st.integers(0, 7))
    known_at = (None if which < 6 else datetime.combine(as_of, time(12)) if which == 6
                else datetime.combine(as_of + 400 * DAY, time(12)))
    known = _cut(known_at, as_of)
    parts = [draw(_population(b, as_of, known, k)) for k in range(populations)]
    return Case(as_of, known_at, tuple(s for p in parts for s in p[0]),
                tuple(lk for p in parts for lk in p[1]), tuple(r for p in parts for r in p[2]),
                tuple(e for p in parts for e in p[3]))
