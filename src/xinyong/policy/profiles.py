"""Dated profile rules applied to the schemes that claim the profile (pure).

A profile rule (``[[profile_rule]]``) is a dated policy version for every scheme that claims
its profile: from the rule's ``effective_from`` the scheme has a version that no longer counts
what the rule excludes, and from its ``effective_to`` (if any) the old content returns. The
engine then needs nothing special: it picks the scheme version in force on each day, as for
any other versioned object, and a grade's turning points include the version's first day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from itertools import pairwise
from typing import Any

from xinyong.policy.schema import (
    Condition,
    Preset,
    Profile,
    ProfileRule,
    Scheme,
    Withdrawn,
)


def claimed_profile(scheme: Scheme, preset: Preset | None) -> Profile:
    """The profile whose dated rules bind the scheme: its own claim, else its preset's."""
    if scheme.profile is not None:
        return scheme.profile
    return preset.profile if preset is not None else Profile.CN_2021


def apply_profile_rules(
    schemes: Iterable[tuple[Scheme, Any]],
    rules: Iterable[ProfileRule],
    presets: Mapping[str, Preset],
    catalog: set[str],
) -> list[tuple[Scheme, Any]]:
    """Each scheme version, split at the days a rule of its claimed profile starts or ends,
    with what the rules in force exclude withdrawn. ``catalog`` holds the ids of categories in
    the National Basic Catalog; the second item of each pair (its origin) is kept."""
    rules = tuple(rules)
    out: list[tuple[Scheme, Any]] = []
    for scheme, origin in schemes:
        claimed = claimed_profile(scheme, presets.get(getattr(origin, "preset", "")))
        mine = [r for r in rules if r.profile is claimed and _meets(r, scheme)]
        if not mine or not _restricted(scheme, mine, catalog, scheme.effective_from).withdrawn:
            out.append((scheme, origin))
            continue
        end = scheme.effective_to
        cuts = {d for r in mine for d in (r.effective_from, r.effective_to) if d is not None
                and scheme.effective_from < d and (end is None or d < end)}
        bounds: list[date | None] = [scheme.effective_from, *sorted(cuts), end]
        for lo, hi in pairwise(bounds):
            assert lo is not None
            part = scheme.model_copy(update={"effective_from": lo, "effective_to": hi})
            live = [r for r in mine if r.in_force(lo)]
            out.append((_restricted(part, live, catalog, lo) if live else part, origin))
    return out


def _meets(rule: ProfileRule, scheme: Scheme) -> bool:
    """The rule's window overlaps the scheme version's."""
    return (scheme.effective_to is None or rule.effective_from < scheme.effective_to) and (
        rule.effective_to is None or scheme.effective_from < rule.effective_to)


def _restricted(scheme: Scheme, rules: list[ProfileRule], catalog: set[str],
                since: date) -> Scheme:
    """The scheme without what ``rules`` exclude (each rule counts only catalog categories)."""
    withdrawn: list[Withdrawn] = []
    for rule in rules:
        def out(part: str, ident: str, cats: Iterable[str], rule: ProfileRule = rule) -> bool:
            """Withdraw the part if it reads categories outside the catalog."""
            others = tuple(dict.fromkeys(c for c in cats if c not in catalog))
            if others:
                withdrawn.append(Withdrawn.model_validate({
                    "part": part, "id": ident, "categories": others,
                    "since": max(since, rule.effective_from), "rule": rule.id,
                    "reason": "outside the National Basic Catalog, and the scheme claims "
                              f"{rule.profile.value}: {rule.title}",
                    "legal_basis": rule.legal_basis}))
            return bool(others)

        indicators = []
        for ind in scheme.indicator:
            if not out("indicator", ind.id, ind.categories):
                indicators.append(ind)
            elif kept := tuple(c for c in ind.categories if c in catalog):
                # an indicator on catalog and other categories keeps counting the catalog ones
                indicators.append(ind.model_copy(update={"categories": kept}))
        scheme = scheme.model_copy(update={
            "indicator": tuple(indicators),
            "override": tuple(o for o in scheme.override
                              if not out("override", o.id, _categories(o.when))),
            "conditional": tuple(c for c in scheme.conditional
                                 if not out("conditional", c.id, _categories(c.when))),
        })
    return scheme.model_copy(update={"withdrawn": (*scheme.withdrawn, *withdrawn)})


def _categories(c: Condition) -> list[str]:
    """Every category a condition reads on the subject's own records and its links' (a grade
    under another scheme is that scheme's business)."""
    out = list(c.categories)
    if c.linked is not None:
        out += _categories(c.linked.when)
    for sub in (*c.any, *c.all):
        out += _categories(sub)
    return out
