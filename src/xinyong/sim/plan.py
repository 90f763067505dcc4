"""What the population generator reads off a policy: which version of each category is
in force when, which records are of an obligation that can be performed, the regions of
local agencies, and when a voluntary programme starts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from xinyong.policy.model import Policy
from xinyong.policy.schema import Category, Domain

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the window during which one version of a category is in force."""

    lo: date
    hi: date  # inclusive
    category: Category


def category_spans(policy: Policy, start: date, end: date) -> dict[str, list[Span]]:
    cuts = sorted({start, *(b for b in policy.breaks if start < b <= end)})
    spans: dict[str, list[Span]] = defaultdict(list)
    for i, lo in enumerate(cuts):
        hi = cuts[i + 1] - _DAY if i + 1 < len(cuts) else end
        for cid, cat in policy.at(lo).categories.items():
            prev = spans[cid][-1] if spans[cid] else None
            if prev is not None and prev.category is cat and prev.hi + _DAY == lo:
                spans[cid][-1] = Span(prev.lo, hi, cat)
            else:
                spans[cid].append(Span(lo, hi, cat))
    return {cid: spans[cid] for cid in sorted(spans)}


def rectifiable(policy: Policy) -> Callable[[Category], bool]:
    """Records of an unperformed obligation: judgment debtors (the judicial domain) and
    categories whose list ends on performance (``removal.rectification_working_days``)."""
    listed = {
        c
        for r in policy.all("list_rule")
        if r.removal.rectification_working_days is not None
        for c in r.trigger.categories
    }

    def test(cat: Category) -> bool:
        return (
            cat.id.startswith("judicial.debtor")
            or cat.domain is Domain.JUDICIAL
            or cat.id in listed
        )

    return test


def _prefix(region: str) -> str:
    """The code prefix a region covers: "320500" (Suzhou) covers "3205xx"."""
    while region.endswith("00"):
        region = region[:-2]
    return region


def agency_prefixes(policy: Policy) -> dict[str, str]:
    """Agency id -> region prefix, for agencies bound to a region."""
    out: dict[str, str] = {}
    for a in sorted(policy.all("agency"), key=lambda a: (a.id, a.effective_from)):
        if a.region:
            out[a.id] = _prefix(a.region)
        else:
            out.pop(a.id, None)
    return out


def programme_start(policy: Policy, preset: str) -> date | None:
    """Earliest effective date of anything the voluntary preset defines."""
    days = [k[2] for k, o in policy.origins.items() if o.preset == preset and k[2] is not None]
    return min(days) if days else None
