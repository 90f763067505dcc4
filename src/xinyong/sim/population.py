"""Synthetic populations: subjects, links, credit records and events drawn from a policy.

Everything is derived from the seed: each stage has its own ``random.Random`` stream (so
changing how links are drawn does not reshuffle the records) and Faker is seeded per
instance. Nothing reads the clock or the global random state.

The simulator's own attributes (urban/rural, digital access) live in
:class:`AttributeTable`, apart from the credit data (DESIGN: synthetic attributes are kept
apart), and as columns rather than one object per subject.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple

from faker import Faker

from xinyong.ids import IdScheme, make_ric, make_uscc, validate
from xinyong.model import (
    Channel,
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
from xinyong.policy.schema import AgencyLevel, Category
from xinyong.reference.regions import PROVINCE_ABBR, Region, county_regions
from xinyong.sim import draws, plan, shape

GENERATOR_VERSION = "1"

# The rates live in one description both generators read (see xinyong.sim.shape).
D = shape.DISTRIBUTIONS
SEVERITY_RATE = D.severity_rate
OPT_IN_SHARE = D.opt_in_share
RECTIFIED_SHARE = D.rectified_share  # of records of an obligation that can be performed
REVOKED_SHARE = D.revoked_share  # of all records
REPAIRED_SHARE = D.repaired_share  # of records whose category has a minimum publicity period
MULTI_FIRM_SHARE = D.multi_firm_share  # of persons: run 2-3 firms
LOCAL_SHARE = D.local_share

# Characters allowed in a USCC's organisation-code part (GB 32100 leaves out I, O, S, V, Z).
_USCC_BODY = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_DAY = timedelta(days=1)
_ADULT = Period(years=18)

_PUBLIC_BODY_SUFFIXES = (
    "市场监督管理局", "税务局", "人民政府", "住房和城乡建设局", "生态环境局",
    "教育局", "人力资源和社会保障局", "交通运输局", "卫生健康局", "农业农村局",
)  # fmt: skip
_SOCIAL_ORG_SUFFIXES = (
    "慈善总会", "志愿者协会", "个体劳动者协会", "工商业联合会", "老年人协会",
    "文化促进会", "青年创业协会", "消费者协会",
)  # fmt: skip


class SimAttributes(NamedTuple):
    """What the simulator assumes about a subject; never part of its credit file."""

    urban: bool
    digital_access: bool


@dataclass(frozen=True)
class AttributeTable(Mapping[str, SimAttributes]):
    """Subject id -> :class:`SimAttributes`, stored as parallel columns."""

    ids: tuple[str, ...]
    urban: tuple[bool, ...]
    digital_access: tuple[bool, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not len(self.ids) == len(self.urban) == len(self.digital_access):
            raise ValueError("attribute columns must have equal length")
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.ids)})

    def __getitem__(self, subject: str) -> SimAttributes:
        i = self._index[subject]
        return SimAttributes(self.urban[i], self.digital_access[i])

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Population:
    subjects: tuple[Subject, ...]
    links: tuple[Link, ...]
    records: tuple[Record, ...]
    events: tuple[RecordEvent, ...]
    attributes: AttributeTable
    seed: int
    start: date
    end: date
    policy_digest: str
    generator_version: str = GENERATOR_VERSION

    def counts(self) -> dict[str, int]:
        return {
            "subjects": len(self.subjects),
            "links": len(self.links),
            "records": len(self.records),
            "events": len(self.events),
            "attributes": len(self.attributes),
        }


# --- generation --------------------------------------------------------------------


def generate(
    policy: Policy,
    *,
    seed: int,
    persons: int = 2000,
    enterprises: int = 400,
    public_bodies: int = 20,
    social_orgs: int = 20,
    start: date = date(2019, 1, 1),
    end: date = date(2025, 12, 31),
) -> Population:
    """A synthetic population with records of every category in force in [start, end]."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if min(persons, enterprises, public_bodies, social_orgs) < 0:
        raise ValueError("sizes cannot be negative")
    if persons == 0 and enterprises + public_bodies + social_orgs > 0:
        raise ValueError("organisations need at least one person as legal representative")
    g = _Generator(policy, seed, start, end)
    g.add_persons(persons)
    g.add_organisations(enterprises, public_bodies, social_orgs)
    g.add_links(enterprises)
    g.add_records()
    g.add_events()
    return Population(
        subjects=tuple(g.subjects),
        links=tuple(g.links),
        records=tuple(g.records),
        events=tuple(g.events),
        attributes=g.attribute_table(),
        seed=seed,
        start=start,
        end=end,
        policy_digest=policy.digest,
    )


class _Generator:
    def __init__(self, policy: Policy, seed: int, start: date, end: date):
        self.policy, self.seed, self.start, self.end = policy, seed, start, end
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.regions = county_regions()
        self.agency_prefix = plan.agency_prefixes(policy)
        self.local = {
            p: [r for r in self.regions if r.code.startswith(p)]
            for p in sorted(set(self.agency_prefix.values()))
        }
        self.subjects: list[Subject] = []
        self.subject_region: list[Region] = []
        self.since: list[date] = []  # adulthood or registration: no records before it
        self.birth_year: list[int] = []  # 0 for organisations
        self.links: list[Link] = []
        self.records: list[Record] = []
        self.events: list[RecordEvent] = []
        self.categories: list[Category] = []  # the version in force for each record
        self.n_persons = 0

    def region(self, rng: random.Random, person: bool) -> Region:
        # a RIC's birth year may not precede its region code (see Region.since)
        def fits(r: Region) -> bool:
            return not person or r.since <= D.birth_years[1]

        if self.local and rng.random() < LOCAL_SHARE:
            choices = [r for r in self.local[rng.choice(list(self.local))] if fits(r)]
            if choices:
                return rng.choice(choices)
        while True:
            r = rng.choice(self.regions)
            if fits(r):
                return r

    def rng(self, stage: str) -> random.Random:
        # str seeds are hashed with SHA-512 by random, so streams are stable across runs
        return random.Random(f"{self.seed}:{stage}")

    # --- subjects ------------------------------------------------------------------

    def add_persons(self, n: int) -> None:
        rng = self.rng("persons")
        voluntary = sorted(p.id for p in self.policy.presets.values() if p.voluntary)
        opt_from = {}
        for pid in voluntary:
            lo = max(self.start, plan.programme_start(self.policy, pid) or self.start)
            if lo <= self.end:
                opt_from[pid] = lo
        used: set[str] = set()
        for i in range(n):
            region = self.region(rng, person=True)
            year = rng.randint(max(D.birth_years[0], region.since), D.birth_years[1])
            birth = draws.uniform_day(rng, date(year, 1, 1), date(year, 12, 31))
            while True:
                ric = make_ric(region.code, birth.strftime("%Y%m%d"), rng.randrange(1000))
                if ric not in used:
                    used.add(ric)
                    break
            opt_ins = tuple(
                (pid, draws.uniform_day(rng, lo, self.end))
                for pid, lo in opt_from.items()
                if rng.random() < OPT_IN_SHARE
            )
            self._add(
                Subject(
                    id=f"P{i + 1:06d}",
                    kind=SubjectKind.PERSON,
                    name=self.fake.name(),
                    region=region.code,
                    identifiers=(validate(IdScheme.RIC, ric),),
                    opt_ins=opt_ins,
                ),
                region,
                _ADULT.after(birth),
                year,
            )
        self.n_persons = n

    def add_organisations(self, enterprises: int, public_bodies: int, social_orgs: int) -> None:
        rng = self.rng("organisations")
        used: set[str] = set()
        # (prefix, count, kind, USCC authority, earliest registration, share registered
        # in the last year before the window ends, to exercise "new entity" rules)
        counts = (enterprises, public_bodies, social_orgs)
        plans = tuple((o.prefix, n, o.kind, o.authority, o.earliest, o.new_share)
                      for o, n in zip(D.organisations, counts, strict=True))
        for prefix, count, kind, authority, earliest, new_share in plans:
            earliest = min(earliest, self.start)
            recent = max(earliest, self.end - timedelta(days=364))
            for i in range(count):
                region = self.region(rng, person=False)
                if rng.random() < new_share:
                    registered = draws.uniform_day(rng, recent, self.end)
                else:
                    registered = draws.uniform_day(rng, earliest, max(earliest, recent - _DAY))
                while True:
                    body = "".join(rng.choice(_USCC_BODY) for _ in range(8))
                    code = make_uscc(authority, "1", region.code, body)
                    if code not in used:
                        used.add(code)
                        break
                self._add(
                    Subject(
                        id=f"{prefix}{i + 1:06d}",
                        kind=kind,
                        name=self._org_name(rng, kind, region),
                        region=region.code,
                        identifiers=(validate(IdScheme.USCC, code),),
                        registered=registered,
                    ),
                    region,
                    registered,
                    0,
                )

    def _org_name(self, rng: random.Random, kind: SubjectKind, region: Region) -> str:
        if kind is SubjectKind.ENTERPRISE:
            return self.fake.company()
        if kind is SubjectKind.PUBLIC_BODY:
            return region.name + rng.choice(_PUBLIC_BODY_SUFFIXES)
        return region.name + rng.choice(_SOCIAL_ORG_SUFFIXES)

    def _add(self, s: Subject, region: Region, since: date, birth_year: int) -> None:
        self.subjects.append(s)
        self.subject_region.append(region)
        self.since.append(since)
        self.birth_year.append(birth_year)

    # --- links ---------------------------------------------------------------------

    def add_links(self, enterprises: int) -> None:
        if self.n_persons == 0:
            return
        rng = self.rng("links")
        firms = list(range(self.n_persons, self.n_persons + enterprises))
        # persons adult before the first registrations hold roles from registration on
        pool = [p for p in range(self.n_persons) if self.since[p] <= D.pool_adult_by]
        if len(pool) < 10:
            pool = list(range(self.n_persons))
        rng.shuffle(pool)
        lr: dict[int, int] = {}
        rp: dict[int, int] = {}

        # some persons run 2-3 firms, as legal representative or responsible person
        n_multi = min(round(MULTI_FIRM_SHARE * self.n_persons), len(pool) // 2, enterprises // 2)
        multi, ordinary = pool[:n_multi], pool[n_multi:] or pool
        order = firms[:]
        rng.shuffle(order)
        at = 0
        for person in multi:
            for _ in range(rng.choice(D.multi_firm_counts)):
                firm = order[at % len(order)]
                at += 1
                if firm not in lr:
                    lr[firm] = person
                elif firm not in rp and lr[firm] != person:
                    rp[firm] = person

        nxt = 0

        def next_ordinary() -> int:
            nonlocal nxt
            nxt += 1
            return ordinary[(nxt - 1) % len(ordinary)]

        for firm in firms:
            if firm not in lr:
                lr[firm] = next_ordinary()
            if firm not in rp:
                rp[firm] = (lr[firm] if rng.random() < D.responsible_is_representative
                            else next_ordinary())
            self._firm_links(rng, firm, lr[firm], rp[firm], firms, pool, next_ordinary)

        # public bodies and social organisations have a legal representative too
        for org in range(self.n_persons + enterprises, len(self.subjects)):
            self._link(org, next_ordinary(), LinkRole.LEGAL_REPRESENTATIVE)

    def _firm_links(
        self,
        rng: random.Random,
        firm: int,
        lr: int,
        rp: int,
        firms: list[int],
        pool: list[int],
        next_ordinary: Callable[[], int],
    ) -> None:
        registered = self.since[firm]
        first = self._link(firm, lr, LinkRole.LEGAL_REPRESENTATIVE)
        # a change of legal representative: the old link ends when the new one starts
        if rng.random() < D.representative_changes and (self.end - first.start).days > 60:
            change = draws.uniform_day(rng, first.start + timedelta(days=30), self.end)
            successor = next_ordinary()
            if successor != lr and self.since[successor] < change:
                self.links[-1] = Link(
                    first.organisation, first.party, first.role, first.start, change
                )
                self.links.append(
                    Link(first.organisation, self.subjects[successor].id, first.role, change)
                )
        self._link(firm, rp, LinkRole.RESPONSIBLE_PERSON)
        holders = {lr} if rng.random() < D.representative_holds_shares else set()
        holders.update(rng.choice(pool) for _ in range(rng.choice(D.other_holders)))
        for p in sorted(holders):
            self._link(firm, p, LinkRole.SHAREHOLDER)
        if rng.random() < D.parent_company:  # a parent company holds shares
            parent = rng.choice(firms)
            if parent != firm and self.since[parent] <= registered:
                self._link(firm, parent, LinkRole.SHAREHOLDER)
        if rng.random() < D.actual_controller:
            self._link(firm, rng.choice(pool), LinkRole.ACTUAL_CONTROLLER)

    def _link(self, org: int, party: int, role: LinkRole) -> Link:
        link = Link(
            organisation=self.subjects[org].id,
            party=self.subjects[party].id,
            role=role,
            start=max(self.since[org], self.since[party]),
        )
        self.links.append(link)
        return link

    # --- records -------------------------------------------------------------------

    def add_records(self) -> None:
        rng = self.rng("records")
        # a heavy tail: most subjects are drawn rarely, a few often (capped)
        propensity = [min(rng.paretovariate(D.propensity_alpha), D.propensity_cap)
                      for _ in self.subjects]
        pools: dict[tuple[tuple[SubjectKind, ...], tuple[str, ...]], draws.Pool | None] = {}

        def pool_of(cat: Category) -> draws.Pool | None:
            """Subjects of the category's kinds within reach of one of its agencies."""
            kinds = tuple(sorted(set(cat.subject_kinds)))
            local = [self.agency_prefix.get(a) for a in cat.agencies]
            # a national (or unplaced) agency reaches everyone: prefix ""
            reach = tuple(sorted({p or "" for p in local})) if all(local) else ("",)
            key = (kinds, reach)
            if key not in pools:
                members = [
                    i
                    for i, s in enumerate(self.subjects)
                    if s.kind in kinds and s.region.startswith(reach)
                ]
                pools[key] = draws.Pool(members, propensity) if members else None
            return pools[key]

        raw: list[tuple[datetime, int, Record, Category, bool]] = []
        for cid, weighted in shape.category_weights(self.policy, self.start, self.end).items():
            spans = [w.span for w in weighted]
            expected = []
            for w in weighted:
                pool = pool_of(w.category)
                expected.append(w.weight * (len(pool.members) if pool else 0))
            total = sum(expected)
            if total <= 0:
                continue
            n = int(total) + (rng.random() < total - int(total))
            for _ in range(n):
                sp = rng.choices(spans, weights=expected)[0]
                cat = sp.category
                pool = pool_of(cat)
                assert pool is not None
                # retry a few times if the subject did not exist yet (minor, unregistered)
                for _try in range(6):
                    eff = draws.uniform_day(rng, sp.lo, sp.hi)
                    act = max(sp.lo, eff - timedelta(days=rng.randint(0, D.act_before_effective)))
                    who = pool.draw(rng)
                    if self.since[who] <= act:
                        break
                else:
                    continue
                home = self.subjects[who].region
                agency = rng.choice(
                    [a for a in cat.agencies if home.startswith(self.agency_prefix.get(a, ""))]
                )
                lag = rng.randint(0, min(D.recording_lag, (self.end - eff).days))
                rec = Record(
                    id="",  # numbered once all records are in order of recording
                    subject=self.subjects[who].id,
                    category=cid,
                    agency=agency,
                    act_date=act,
                    effective=eff,
                    document_no="",
                    legal_basis=cat.legal_basis[0],
                    recorded_at=draws.stamp(rng, eff + timedelta(days=lag)),
                    amounts=draws.amounts(rng, cat.amounts, cat.severity),
                )
                court = agency == "spc" or "court" in agency
                raw.append((rec.recorded_at, len(raw), rec, cat, court))

        raw.sort(key=lambda t: (t[0], t[1]))
        channel = self._channels()
        numbers: dict[tuple[str, int], int] = {}
        region_of = {s.id: r for s, r in zip(self.subjects, self.subject_region, strict=True)}
        for i, (_, _, rec, cat, court) in enumerate(raw):
            year = rec.act_date.year
            if court:
                region = region_of[rec.subject]
                key = (region.code, year)
                # court case numbers restart every year; start somewhere plausible
                n = numbers[key] = numbers.get(key, rng.randint(100, 3000)) + 1
                doc = f"({year}){PROVINCE_ABBR[region.code[:2]]}{region.code[2:]}执{n}号"
            else:
                key = (rec.agency, year)
                n = numbers[key] = numbers.get(key, 0) + 1
                doc = f"{rec.agency.upper()}-{year}-{n:05d}"
            self.records.append(replace(rec, id=f"R{i + 1:07d}", document_no=doc,
                                        channel=channel(rec, court)))
            self.categories.append(cat)

    def _channels(self) -> Callable[[Record, bool], Channel]:
        """A record's channel: that of one of the feeds its agency sends the category through
        (drawn from a stream of its own, so the other draws stay as they were); without a
        feed, judicial for a court, monitoring for a private scorer's own data (Sesame), the
        recorder for a village's, and administrative (the normal case) for the rest."""
        rng = self.rng("channels")
        view = self.policy.at(self.end)
        feeds = list(view.feeds.values())
        by_level = {AgencyLevel.PRIVATE: Channel.MONITORING, AgencyLevel.VILLAGE: Channel.RECORDER}
        memo: dict[tuple[str, str], list[Channel]] = {}

        def channel(rec: Record, court: bool) -> Channel:
            key = (rec.agency, rec.category)
            if key not in memo:
                memo[key] = [f.channels[0] for f in feeds
                             if f.agency == rec.agency and rec.category in f.categories]
            got = memo[key]
            if not got:
                agency = view.agencies.get(rec.agency)
                if court:
                    return Channel.JUDICIAL
                if agency is not None and not agency.official:
                    return by_level.get(agency.level, Channel.ADMINISTRATIVE)
                return Channel.ADMINISTRATIVE
            return got[0] if len(got) == 1 else rng.choice(got)

        return channel

    # --- events --------------------------------------------------------------------

    def add_events(self) -> None:
        rng = self.rng("events")
        raw: list[tuple[datetime, int, str, EventKind, date]] = []
        rectifiable = plan.rectifiable(self.policy)

        def add(rec: Record, kind: EventKind, day: date) -> None:
            lag = rng.randint(0, min(D.event_lag, (self.end - day).days))
            stamp = draws.stamp(rng, day + timedelta(days=lag))
            raw.append((stamp, len(raw), rec.id, kind, day))

        for rec, cat in zip(self.records, self.categories, strict=True):
            # events follow the moment the record was known, so they never precede it
            known = rec.recorded_at.date()
            room = (self.end - known).days
            if rng.random() < REVOKED_SHARE:
                if room >= 1:
                    add(
                        rec,
                        EventKind.REVOKED,
                        known + timedelta(days=rng.randint(1, min(D.revoked_within, room))),
                    )
                continue
            after = known
            lo, hi = D.rectified_after
            if rectifiable(cat) and rng.random() < RECTIFIED_SHARE and room >= lo:
                after = known + timedelta(days=rng.randint(lo, min(hi, room)))
                add(rec, EventKind.RECTIFIED, after)
            minimum = cat.publicity.min
            if minimum is not None and rng.random() < REPAIRED_SHARE:
                earliest = max(minimum.after(rec.effective), after + _DAY)
                if earliest <= self.end:
                    room = (self.end - earliest).days
                    add(
                        rec,
                        EventKind.REPAIRED,
                        earliest + timedelta(days=rng.randint(0, min(D.repaired_within, room))),
                    )

        raw.sort(key=lambda t: (t[0], t[1]))
        self.events = [
            RecordEvent(
                id=f"EV{i + 1:07d}", record=rid, kind=kind, effective=day, recorded_at=stamp
            )
            for i, (stamp, _, rid, kind, day) in enumerate(raw)
        ]

    # --- attributes ----------------------------------------------------------------

    def attribute_table(self) -> AttributeTable:
        rng = self.rng("attributes")
        urban: list[bool] = []
        digital: list[bool] = []
        for s, region, born in zip(
            self.subjects, self.subject_region, self.birth_year, strict=True
        ):
            u = rng.random() < (D.urban_if_district if region.urban else D.urban_otherwise)
            # organisations are nearly all online; older and rural persons less often
            p = ((D.digital_urban if u else D.digital_rural)
                 - (D.digital_older_penalty if born < 1965 else 0.0)) if s.is_person \
                else D.digital_organisation
            urban.append(u)
            digital.append(rng.random() < p)
        return AttributeTable(tuple(s.id for s in self.subjects), tuple(urban), tuple(digital))
