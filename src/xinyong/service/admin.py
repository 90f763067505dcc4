"""Policy versions through the service (admin): load and lint a new version, measure its
impact on the subjects in the ledger before it takes effect, then activate it.

A version is a whole policy: the running version's files with the uploaded ones laid over
them (or the uploaded files alone). It is stored with its lint findings, so what was checked
and what was activated, by whom and when, can be read back."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Any

from xinyong.ledger.platform import active_policy_version, policy_version, policy_versions
from xinyong.ledger.store import Ledger
from xinyong.model import Standing, Subject
from xinyong.policy.lint import lint
from xinyong.policy.loader import PolicyError, build
from xinyong.policy.model import Policy
from xinyong.service.core import Invalid, NotFound, Principal, Service, audited
from xinyong.standings import assess, due_states


def pointer(*parts: str) -> str:
    """An RFC 6901 JSON pointer (``/`` in a file path becomes ``~1``)."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def compose(base: Mapping[str, str], files: Mapping[str, str],
            remove: list[str]) -> dict[str, str]:
    """The base version's files with ``files`` laid over them and ``remove`` taken out."""
    missing = [p for p in remove if p not in base and p not in files]
    if missing:
        raise Invalid(f"{len(missing)} file(s) to remove are not in the policy", [
            {"pointer": pointer("body", "remove", str(remove.index(p))),
             "detail": f"no file {p!r} in the running version"} for p in missing])
    out = {**base, **files}
    for p in remove:
        out.pop(p, None)
    return out


def build_or_explain(files: Mapping[str, str]) -> Policy:
    """Build the policy, or refuse with every problem at its file, line and key."""
    if not files:
        raise Invalid("the version has no files", [
            {"pointer": "/body/files", "detail": "send the policy's TOML files by path, or "
             "leave replace_all false to lay them over the running version"}])
    try:
        return build(files)
    except PolicyError as e:
        raise Invalid(f"the policy does not load: {len(e.problems)} problem(s); nothing was "
                      "stored", [
                          {"pointer": pointer("body", "files", p.file),
                           "detail": (f"line {p.line}: " if p.line else "")
                           + (f"{p.key}: " if p.key else "") + p.message}
                          for p in e.problems]) from None


def active_version(ledger: Ledger) -> tuple[str, dict[str, str]] | None:
    """The version last activated through the service: (id, files), or None."""
    return active_policy_version(ledger)


# --- impact --------------------------------------------------------------------------------


@cache
def _regions() -> dict[str, Any]:
    from xinyong.reference.regions import county_regions

    return {r.code: r for r in county_regions()}


def groups(subject: Subject) -> dict[str, str]:
    """kind, region (province) and area (urban: a district 区; rural: a county, banner or
    county-level city) of a subject, from its GB/T 2260 region code."""
    region = _regions().get(subject.region)
    return {"kind": subject.kind.value,
            "region": region.province if region else "unknown",
            "area": ("urban" if region.urban else "rural") if region else "unknown"}


def restrictions(standing: Standing) -> set[str]:
    """Restricting measures in force for the subject (its own or reaching it by a link),
    whether or not a reviewer has yet confirmed them."""
    return {m.measure for m in standing.measures if m.kind == "restrict"}


def impact(ledger: Ledger, current: Policy, candidate: Policy, on: date) -> dict[str, Any]:
    """How many subjects, and in which groups, the candidate would newly restrict or release
    on ``on`` compared with the running policy; per measure too. Both are evaluated on the
    same facts, everything the ledger knows now (each subject's neighbourhood read once),
    with due process as it stands now: a date ahead is a projection of today's facts."""
    depth = max(1, current.at(on).max_path, candidate.at(on).max_path)
    known = ledger.clock()
    tally: dict[str, dict[str, Counter[str]]] = {
        change: {g: Counter() for g in ("kind", "region", "area")}
        for change in ("newly_restricted", "released")}
    totals: Counter[str] = Counter()
    per_measure: dict[str, Counter[str]] = {}
    subjects = ledger.subjects()
    everyone = list(subjects.values())
    for i in range(0, len(everyone), 2000):  # neighbourhoods read in bulk, a slice at a time
        hoods = ledger.neighbourhoods(everyone[i:i + 2000], depth)
        dues = due_states(ledger, hoods.values(), known)
        for sid, h in hoods.items():
            before, after = (restrictions(assess(p, h, on, known, dues[sid]))
                             for p in (current, candidate))
            _count(tally, totals, per_measure, subjects[sid], before, after)
    return {
        "on": on.isoformat(), "subjects": len(subjects),
        "restricted": {"before": totals["restricted_before"],
                       "after": totals["restricted_after"]},
        **{change: {"total": totals[change],
                    **{f"by_{g}": dict(sorted(n.items())) for g, n in tally[change].items()}}
           for change in ("newly_restricted", "released")},
        "measures": {m: {"newly": n["newly"], "lifted": n["lifted"]}
                     for m, n in sorted(per_measure.items())},
    }


def _count(tally: dict[str, dict[str, Counter[str]]], totals: Counter[str],
           per_measure: dict[str, Counter[str]], s: Subject, before: set[str],
           after: set[str]) -> None:
    totals["restricted_before"] += bool(before)
    totals["restricted_after"] += bool(after)
    for m in before ^ after:
        per_measure.setdefault(m, Counter())["newly" if m in after else "lifted"] += 1
    change = ("newly_restricted" if after and not before
              else "released" if before and not after else None)
    if change is not None:
        totals[change] += 1
        for g, value in groups(s).items():
            tally[change][g][value] += 1


# --- the admin operations ---------------------------------------------------------------------


class Admin:
    """Admin operations on policy versions, through the service's gate and audit log."""

    def __init__(self, service: Service):
        self.service, self.ledger = service, service.ledger

    def _row(self, version: str) -> Any:
        row = policy_version(self.ledger, version)
        if row is None:
            raise NotFound(f"no policy version {version!r}; GET /admin/policies lists them")
        return row

    @audited("policies.list")
    def versions(self, who: Principal) -> dict[str, Any]:
        self.service.authorize(who, "policies.list")
        rows = policy_versions(self.ledger)
        self.ledger.audit(who.actor, "policies.list", None, {"count": len(rows)})
        return {"running": self.service.running, "digest": self.service.policy.digest,
                "versions": [{
                    "id": r.id, "digest": r.digest, "errors": r.errors,
                    "warnings": len(r.lint) - r.errors,
                    "loaded_at": r.loaded_at.isoformat(), "loaded_by": r.loaded_by,
                    "activated_at": r.activated_at.isoformat() if r.activated_at else None,
                    "activated_by": r.activated_by} for r in rows]}

    @audited("policies.load")
    def load(self, who: Principal, files: dict[str, str], remove: list[str],
             replace_all: bool) -> dict[str, Any]:
        """Store a new version after it builds; its lint findings come back with it."""
        self.service.authorize(who, "policies.load")
        base = {} if replace_all else self.service.files
        whole = compose(base, files, remove)
        policy = build_or_explain(whole)
        findings = [dataclasses.asdict(f) for f in lint(policy)]
        errors = sum(f["severity"] == "error" for f in findings)
        changed = sorted(p for p in set(base) | set(whole) if base.get(p) != whole.get(p))
        with self.ledger.transaction(who.actor, "policies.load", None, {
                "digest": policy.digest, "changed": changed, "errors": errors}) as tx:
            vid = tx.add_policy_version({
                "digest": policy.digest, "files": whole, "lint": findings,
                "errors": errors, "loaded_at": self.ledger.clock(), "loaded_by": who.actor})
            tx.detail["version"] = vid
        return {"id": vid, "digest": policy.digest, "presets": sorted(policy.presets),
                "changed": changed, "errors": errors, "warnings": len(findings) - errors,
                "lint": findings, "activatable": errors == 0}

    @audited("policies.impact")
    def impact(self, who: Principal, version: str, on: date) -> dict[str, Any]:
        self.service.authorize(who, "policies.impact")
        row = self._row(version)
        candidate = build_or_explain(row.files)
        result = {"version": version, "running": self.service.policy.digest,
                  "candidate": candidate.digest,
                  **impact(self.ledger, self.service.policy, candidate, on)}
        self.ledger.audit(who.actor, "policies.impact", None, {
            "version": version, "on": on.isoformat(), "subjects": result["subjects"],
            "newly_restricted": result["newly_restricted"]["total"],
            "released": result["released"]["total"]})
        return result

    @audited("policies.activate")
    def activate(self, who: Principal, version: str) -> dict[str, Any]:
        """The version takes effect in the service at once; refused while lint has errors."""
        self.service.authorize(who, "policies.activate")
        row = self._row(version)
        if row.errors:
            raise Invalid(f"{version} has {row.errors} lint error(s); load a corrected "
                          "version", [{"pointer": pointer("lint", str(i)),
                                       "detail": f"{f['file']}: [{f['rule']}] {f['obj']}: "
                                                 f"{f['reason']}"}
                                      for i, f in enumerate(row.lint)
                                      if f["severity"] == "error"])
        policy = build_or_explain(row.files)
        now = self.ledger.clock()
        with self.ledger.transaction(who.actor, "policies.activate", None, {
                "version": version, "digest": policy.digest,
                "replaces": self.service.policy.digest}) as tx:
            tx.activate_policy_version(version, now, who.actor)
        self.service.use(policy, dict(row.files), version)
        return {"id": version, "digest": policy.digest, "activated_at": now.isoformat(),
                "activated_by": who.actor}
