"""Policy versions through the service (admin): load and lint a new version, measure its
impact on the subjects in the ledger before it takes effect (a job: ``service.jobs``), then
activate it.

A version is a whole policy: the running version's files with the uploaded ones laid over
them (or the uploaded files alone). It is stored with its lint findings, so what was checked
and what was activated, by whom and when, can be read back."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from xinyong.ledger.jobs import jobs as stored_jobs
from xinyong.ledger.platform import active_policy_version, policy_version, policy_versions
from xinyong.ledger.store import Ledger
from xinyong.model import Standing, Subject
from xinyong.policy.lint import lint
from xinyong.policy.loader import PolicyError, build
from xinyong.policy.model import Policy
from xinyong.service.core import Invalid, NotFound, Principal, Service, audited
from xinyong.service.jobs import WORKERS, Jobs, Step, document
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


Restrictions = Mapping[str, set[str]]
"""subject id → the measures of kind ``restrict`` in force for it (absent: none)."""

SLICE = 500
"""Subjects evaluated between two progress reports (neighbourhoods read in bulk per slice)."""


def restriction_maps(ledger: Ledger, current: Policy, candidate: Policy, on: date,
                     subjects: Mapping[str, Subject], known: datetime,
                     progress: Callable[[int, int], None] | None = None,
                     size: int = SLICE) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The restrictions of every subject under the running policy and under the candidate
    on ``on``, both on the same facts: what the ledger knew at ``known`` (each subject's
    neighbourhood read once), with due process as it stood then. The per-subject engine, a
    slice at a time; ``progress(done, total)`` after each slice (and before the first) may
    raise to stop. Only subjects with a restriction are in the maps."""
    depth = max(1, current.at(on).max_path, candidate.at(on).max_path)
    before: dict[str, set[str]] = {}
    after: dict[str, set[str]] = {}
    everyone = list(subjects.values())
    if progress is not None:
        progress(0, len(everyone))
    for i in range(0, len(everyone), size):
        hoods = ledger.neighbourhoods(everyone[i:i + size], depth)
        dues = due_states(ledger, hoods.values(), known)
        for sid, h in hoods.items():
            for policy, out in ((current, before), (candidate, after)):
                found = restrictions(assess(policy, h, on, known, dues[sid]))
                if found:
                    out[sid] = found
        if progress is not None:
            progress(min(i + size, len(everyone)), len(everyone))
    return before, after


def impact_of(before: Restrictions, after: Restrictions,
              subjects: Mapping[str, Subject]) -> dict[str, Any]:
    """How many of ``subjects``, and in which groups, are newly restricted or released going
    from the ``before`` restrictions to the ``after`` ones; per measure too. Pure counting:
    the maps may come from the per-subject engine (:func:`restriction_maps`) or from any
    evaluator that rates the whole population; a subject absent from a map has none."""
    tally: dict[str, dict[str, Counter[str]]] = {
        change: {g: Counter() for g in ("kind", "region", "area")}
        for change in ("newly_restricted", "released")}
    totals: Counter[str] = Counter()
    per_measure: dict[str, Counter[str]] = {}
    for sid, s in subjects.items():
        _count(tally, totals, per_measure, s, set(before.get(sid, ())), set(after.get(sid, ())))
    return {
        "subjects": len(subjects),
        "restricted": {"before": totals["restricted_before"],
                       "after": totals["restricted_after"]},
        **{change: {"total": totals[change],
                    **{f"by_{g}": dict(sorted(n.items())) for g, n in tally[change].items()}}
           for change in ("newly_restricted", "released")},
        "measures": {m: {"newly": n["newly"], "lifted": n["lifted"]}
                     for m, n in sorted(per_measure.items())},
    }


def impact(ledger: Ledger, current: Policy, candidate: Policy, on: date,
           progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """How many subjects, and in which groups, the candidate would newly restrict or release
    on ``on`` compared with the running policy; per measure too. Both are evaluated on the
    same facts, everything the ledger knows now, with due process as it stands now: a date
    ahead is a projection of today's facts."""
    known = ledger.clock()
    subjects = ledger.subjects()
    before, after = restriction_maps(ledger, current, candidate, on, subjects, known, progress)
    return {"on": on.isoformat(), **impact_of(before, after, subjects)}


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

    def __init__(self, service: Service, workers: int = WORKERS, slice_size: int = SLICE):
        self.service, self.ledger = service, service.ledger
        self.jobs = Jobs(service.ledger, workers)
        """The worker that runs impact analyses; made here, it marks the jobs an earlier
        process left unfinished interrupted."""
        self.slice = slice_size

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
    def start_impact(self, who: Principal, version: str, on: date) -> dict[str, Any]:
        """Start the impact analysis of the version on ``on`` as a job; the queued job's
        document. The version is checked to build now; the running policy is the one running
        now. The job evaluates what the ledger knows when it starts."""
        self.service.authorize(who, "policies.impact")
        row = self._row(version)
        candidate = build_or_explain(row.files)
        self.jobs.open()
        current = self.service.policy
        head = {"version": version, "running": current.digest, "candidate": candidate.digest}
        with self.ledger.transaction(who.actor, "policies.impact", None, {
                "version": version, "on": on.isoformat()}) as tx:
            job_id = tx.add_job("policies.impact", {**head, "on": on.isoformat()},
                                self.ledger.clock(), who.actor)
            tx.detail["job"] = job_id

        def work(step: Step) -> dict[str, Any]:
            known = self.ledger.clock()
            subjects = self.ledger.subjects()
            before, after = restriction_maps(self.ledger, current, candidate, on, subjects,
                                             known, step, self.slice)
            return {**head, "on": on.isoformat(), **impact_of(before, after, subjects)}

        self.jobs.submit(job_id, work, lambda r: {
            "version": version, "on": on.isoformat(), "subjects": r["subjects"],
            "newly_restricted": r["newly_restricted"]["total"],
            "released": r["released"]["total"]})
        return document(self.jobs.row(job_id))

    @audited("jobs.read")
    def job(self, who: Principal, job_id: str) -> dict[str, Any]:
        """A job's state and progress, and its result once done."""
        self.service.authorize(who, "jobs.read")
        row = self.jobs.row(job_id)
        self.ledger.audit(who.actor, "jobs.read", None, {"job": job_id, "state": row.state})
        return document(row)

    @audited("jobs.list")
    def job_list(self, who: Principal, state: str | None, limit: int) -> dict[str, Any]:
        """Jobs newest first, without their results."""
        self.service.authorize(who, "jobs.list")
        rows = stored_jobs(self.ledger, state, limit)
        self.ledger.audit(who.actor, "jobs.list", None, {"state": state, "count": len(rows)})
        return {"jobs": [document(r, result=False) for r in rows]}

    @audited("jobs.cancel")
    def cancel(self, who: Principal, job_id: str) -> dict[str, Any]:
        """Cancel a queued job, or ask a running one to stop (it ends ``cancelled``)."""
        self.service.authorize(who, "jobs.cancel")
        return self.jobs.cancel(who.actor, job_id)

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
