"""The small tables the columnar generator joins against, derived in Python from the policy
and the one description of the distributions (:mod:`xinyong.sim.shape`): regions with the
probability of each, alias tables (Walker's method: one uniform picks a column, a second
picks its value or its alias, exactly, in O(1)) for regions, Poisson counts and category
spans, and the spans with their agencies, channels and amount fields."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from xinyong.model import Channel, SubjectKind
from xinyong.policy.model import Policy
from xinyong.policy.schema import AgencyLevel
from xinyong.reference.regions import Region, county_regions
from xinyong.sim import plan, shape

KINDS = (SubjectKind.PERSON, SubjectKind.ENTERPRISE, SubjectKind.PUBLIC_BODY,
         SubjectKind.SOCIAL_ORG)
LEVELS = 64  # propensity levels (equally likely mid-quantiles of the capped Pareto)
_TAIL = 1e-13  # Poisson mass left out of a count's alias table


def alias(weights: Sequence[float]) -> list[tuple[int, float, int, int]]:
    """Walker/Vose alias table of ``weights``: rows (column, p, value, alias); draw a column
    uniformly, then its value with probability p, else its alias."""
    n = len(weights)
    total = sum(weights)
    scaled = [w * n / total for w in weights]
    small = [i for i, s in enumerate(scaled) if s < 1.0]
    large = [i for i, s in enumerate(scaled) if s >= 1.0]
    prob, other = [1.0] * n, list(range(n))
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], other[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return [(i, prob[i], i, other[i]) for i in range(n)]


def poisson(lam: float) -> list[float]:
    """P(N = k) for k = 0.. until the tail left is below :data:`_TAIL`."""
    pmf, p, k, acc = [], math.exp(-lam), 0, 0.0
    while True:
        pmf.append(p)
        acc += p
        if 1.0 - acc < _TAIL and k >= lam:
            return pmf
        k += 1
        p *= lam / k


@dataclass(frozen=True)
class Sizes:
    """How many subjects of each kind a population has."""

    persons: int
    firms: int
    public_bodies: int
    social_orgs: int

    @property
    def organisations(self) -> int:
        return self.firms + self.public_bodies + self.social_orgs


@dataclass(frozen=True, slots=True)
class SpanRow:
    sid: int
    category: str
    lo: date
    hi: date
    legal_basis: str
    severity: str
    fields: tuple[str, ...]
    rectifiable: bool
    min_months: int | None  # minimum publicity as months + days (None: no minimum)
    min_days: int | None


@dataclass(frozen=True)
class Tables:
    """Everything the SQL needs from Python, as plain rows."""

    regions: tuple[Region, ...]
    region_class: tuple[int, ...]  # per region: the index of the local prefixes it matches
    person_weight: tuple[float, ...]  # P(region) for a person
    org_weight: tuple[float, ...]
    old_share: tuple[float, ...]  # P(born by the pool's cut-off year | region)
    spans: tuple[SpanRow, ...]
    # class (kind index * n_region_classes + region class) -> [(span id, weight, agencies)]
    class_spans: dict[int, list[tuple[int, float, tuple[tuple[str, tuple[str, ...]], ...]]]]
    n_region_classes: int
    levels: tuple[float, ...]
    pool_year: int  # persons born by the end of this year hold roles in firms
    voluntary: tuple[tuple[str, date], ...]  # programme, first day one may opt in

    def rate(self, cls: int) -> float:
        """Expected records per subject of average propensity in class ``cls``."""
        return sum(w for _, w, _ in self.class_spans.get(cls, ()))


def _channels(policy: Policy, end: date, agency: str, category: str) -> tuple[str, ...]:
    """The channels a record of ``category`` from ``agency`` arrives by (as the per-object
    generator's ``_channels``: the feeds' first channels, else by kind of agency)."""
    view = policy.at(end)
    got = tuple(f.channels[0].value for f in view.feeds.values()
                if f.agency == agency and category in f.categories)
    if got:
        return got
    a = view.agencies.get(agency)
    if agency == "spc" or "court" in agency:
        return (Channel.JUDICIAL.value,)
    if a is not None and not a.official:
        by_level = {AgencyLevel.PRIVATE: Channel.MONITORING, AgencyLevel.VILLAGE: Channel.RECORDER}
        return (by_level.get(a.level, Channel.ADMINISTRATIVE).value,)
    return (Channel.ADMINISTRATIVE.value,)


def _region_weights(regions: Sequence[Region], local: Sequence[Sequence[int]],
                    fits: Sequence[bool], d: shape.Distributions) -> list[float]:
    """P(region) as the per-object generator draws it: a local prefix with ``local_share``
    (then a fitting region of it, or any fitting region if it has none), else any."""
    n_fit = sum(fits)
    w = [(1 - d.local_share if local else 1.0) / n_fit if f else 0.0 for f in fits]
    for members in local:
        chosen = [i for i in members if fits[i]]
        share = d.local_share / len(local)
        for i in chosen or [i for i in range(len(regions)) if fits[i]]:
            w[i] += share / (len(chosen) if chosen else n_fit)
    return w


def build(policy: Policy, start: date, end: date, d: shape.Distributions = shape.DISTRIBUTIONS,
          intensity: float = 1.0) -> Tables:
    regions = county_regions()
    prefix_of = plan.agency_prefixes(policy)
    prefixes = sorted(set(prefix_of.values()))
    local = [[i for i, r in enumerate(regions) if r.code.startswith(p)] for p in prefixes]
    classes: dict[tuple[str, ...], int] = {}
    region_class = tuple(
        classes.setdefault(tuple(p for p in prefixes if r.code.startswith(p)), len(classes))
        for r in regions)
    class_prefixes = {c: set(k) for k, c in classes.items()}
    last_year = d.birth_years[1]
    person_fits = [r.since <= last_year for r in regions]
    pool_year = d.pool_adult_by.year - 19  # born by 31 Dec: 18 by the cut-off's 1 January
    old = []
    for r in regions:
        lo = max(d.birth_years[0], r.since)
        old.append(max(0, pool_year + 1 - lo) / (last_year + 1 - lo) if lo <= last_year else 0.0)
    rectifiable = plan.rectifiable(policy)
    spans: list[SpanRow] = []
    class_spans: dict[int, list[tuple[int, float, tuple[tuple[str, tuple[str, ...]], ...]]]] = {}
    for cid, weighted in shape.category_weights(policy, start, end, d, intensity).items():
        for sw in weighted:
            cat = sw.category
            minimum = cat.publicity.min
            sid = len(spans)
            spans.append(SpanRow(
                sid, cid, sw.span.lo, sw.span.hi, cat.legal_basis[0], cat.severity.value,
                tuple(cat.amounts), rectifiable(cat),
                None if minimum is None else minimum.months + 12 * minimum.years,
                None if minimum is None else minimum.days))
            reach = [prefix_of.get(a) for a in cat.agencies]
            for k, kind in enumerate(KINDS):
                if kind not in cat.subject_kinds:
                    continue
                for rc, matched in class_prefixes.items():
                    if all(reach) and not matched & set(reach):
                        continue  # only local agencies, none of them here
                    ags = tuple((a, _channels(policy, end, a, cid)) for a in cat.agencies
                                if prefix_of.get(a) is None or prefix_of[a] in matched)
                    class_spans.setdefault(k * len(classes) + rc, []).append(
                        (sid, sw.weight, ags))
    voluntary = []
    for pid in sorted(p.id for p in policy.presets.values() if p.voluntary):
        first = max(start, plan.programme_start(policy, pid) or start)
        if first <= end:
            voluntary.append((pid, first))
    return Tables(
        regions=regions, region_class=region_class,
        person_weight=tuple(_region_weights(regions, local, person_fits, d)),
        org_weight=tuple(_region_weights(regions, local, [True] * len(regions), d)),
        old_share=tuple(old), spans=tuple(spans), class_spans=class_spans,
        n_region_classes=len(classes), levels=tuple(shape.propensity_levels(d, LEVELS)),
        pool_year=pool_year, voluntary=tuple(voluntary))
