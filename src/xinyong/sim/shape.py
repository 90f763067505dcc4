"""The one description of a synthetic population's distributions, read by both generators:
the per-object one (:mod:`xinyong.sim.population`, for the demo) and the columnar one
(:mod:`xinyong.sim.columnar`, for national scale). A rate changed here changes both, so they
cannot drift apart.

:func:`category_weights` derives, from a policy, the expected number of records per
eligible subject of each stretch of a category in force (see :func:`plan.category_spans`):
``rate(severity) * days in force / days in the window``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from xinyong.model import SubjectKind
from xinyong.policy.model import Policy
from xinyong.policy.schema import Category, Severity
from xinyong.sim import plan


@dataclass(frozen=True, slots=True)
class OrgPlan:
    """How one kind of organisation is made."""

    prefix: str  # subject ids: E000001, G000001, S000001
    kind: SubjectKind
    authority: str  # its USCC's first character (9 market regulator, 1 government, 5 civil)
    earliest: date  # registrations start here (or at the window's start if earlier)
    new_share: float  # share registered in the window's last year ("new entity" rules)


@dataclass(frozen=True, slots=True)
class Distributions:
    """Rates and weights of a synthetic population (shares are of the subjects or records
    named; lags and spans are in days)."""

    # records: share of eligible subjects that get a record of one category over the window
    severity_rate: Mapping[Severity, float] = field(default_factory=lambda: MappingProxyType({
        Severity.SERIOUS: 0.015, Severity.GENERAL: 0.05, Severity.MINOR: 0.10}))
    propensity_alpha: float = 1.6  # subjects drawn in proportion to min(Pareto(alpha), cap)
    propensity_cap: float = 8.0
    act_before_effective: int = 60  # act date up to 60 days before the decision took effect
    recording_lag: int = 30  # recorded up to 30 days after it took effect
    # events
    revoked_share: float = 0.02  # of all records; a revoked record has no other event
    revoked_within: int = 120
    rectified_share: float = 0.40  # of records of an obligation that can be performed
    rectified_after: tuple[int, int] = (14, 300)
    repaired_share: float = 0.30  # of records whose category has a minimum publicity period
    repaired_within: int = 180  # after the minimum (and after any rectification)
    event_lag: int = 10
    # subjects
    opt_in_share: float = 0.30  # of persons, per voluntary programme
    local_share: float = 0.40  # placed in the regions of the policy's local agencies
    birth_years: tuple[int, int] = (1950, 2004)  # persons; never before their region's code
    organisations: tuple[OrgPlan, ...] = (
        OrgPlan("E", SubjectKind.ENTERPRISE, "9", date(2000, 1, 1), 0.12),
        OrgPlan("G", SubjectKind.PUBLIC_BODY, "1", date(1980, 1, 1), 0.0),
        OrgPlan("S", SubjectKind.SOCIAL_ORG, "5", date(1995, 1, 1), 0.10),
    )
    per_firm_other_orgs: float = 0.05  # public bodies, and social organisations, per firm
    # links (per firm)
    pool_adult_by: date = date(2000, 1, 1)  # persons who hold roles: adult by then
    multi_firm_share: float = 0.05  # of persons: run 2-3 firms
    multi_firm_counts: tuple[int, ...] = (2, 2, 3)
    responsible_is_representative: float = 0.60
    representative_changes: float = 0.12  # the old link ends when the successor's starts
    representative_holds_shares: float = 0.60
    other_holders: tuple[int, ...] = (0, 0, 1, 1, 2)  # further shareholders, drawn uniformly
    parent_company: float = 0.08
    actual_controller: float = 0.10
    # attributes (the simulator's own, apart from the credit data)
    urban_if_district: float = 0.85
    urban_otherwise: float = 0.30
    digital_urban: float = 0.92
    digital_rural: float = 0.70
    digital_older_penalty: float = 0.35  # persons born before 1965
    digital_organisation: float = 0.97


DISTRIBUTIONS = Distributions()


@dataclass(frozen=True, slots=True)
class SpanWeight:
    """One stretch of a category in force, and its expected records per eligible subject of
    average propensity (the rate scaled by the share of the window it covers)."""

    span: plan.Span
    weight: float

    @property
    def category(self) -> Category:
        return self.span.category


def category_weights(policy: Policy, start: date, end: date,
                     d: Distributions = DISTRIBUTIONS, intensity: float = 1.0,
                     ) -> dict[str, list[SpanWeight]]:
    """Category id -> its spans with ``rate * days / window days * intensity``."""
    window = (end - start).days + 1
    return {
        cid: [SpanWeight(sp, d.severity_rate[sp.category.severity] * intensity
                         * ((sp.hi - sp.lo).days + 1) / window) for sp in spans]
        for cid, spans in plan.category_spans(policy, start, end).items()
    }


def propensity_levels(d: Distributions = DISTRIBUTIONS, levels: int = 64) -> list[float]:
    """The propensity distribution as ``levels`` equally likely values (the mid-quantiles of
    min(Pareto(alpha), cap)), for the columnar generator, which draws a level per subject."""
    return [min((1 - (k + 0.5) / levels) ** (-1 / d.propensity_alpha), d.propensity_cap)
            for k in range(levels)]
