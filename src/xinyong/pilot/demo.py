"""The demo platform: a fresh SQLite store, every preset, a synthetic population with a year
of history ending today, the time-driven process run once, and one user per role with a
ready-to-paste request each. ``xinyong demo`` calls these steps, prints, and serves.

The demo's store is its own: it is marked as made by the demo, and the next run deletes and
recreates it. A store not made by the demo is never deleted."""

from __future__ import annotations

import json
import shlex
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from xinyong.engine import decide
from xinyong.engine.explain import public_view
from xinyong.ledger.holders import sqlite_file
from xinyong.ledger.store import Ledger, default_url
from xinyong.model import Effect, LinkRole, Subject, SubjectKind
from xinyong.policy.model import Policy
from xinyong.process.workflow import notices
from xinyong.service import add_user
from xinyong.sim.population import Population, generate
from xinyong.standings import standing

MARK = "demo.store"
"""The audit action that marks a store as the demo's own (and so the demo's to recreate)."""
HISTORY = timedelta(days=365)
ENFORCER_AGENCY = "caac"  # airlines ask about air tickets
ENFORCER_ACTION = "transport.air.ticket"
SUBMITTER_AGENCY = "courts"  # has a feed manifest: courts.dishonest-debtors
SUBMITTER_CATEGORY = "judicial.debtor.refuses_to_perform"


class DemoError(Exception):
    """A clear, user-facing reason the demo cannot go on."""


# --- the store -----------------------------------------------------------------------------


def store_path(url: str | None) -> Path:
    """The file of a ``sqlite:///PATH`` URL. The demo recreates its store, so it needs one."""
    url = url or default_url()
    path = sqlite_file(url)
    if path is None:
        raise DemoError(f"the demo recreates its store on every run, so it needs a SQLite "
                        f"file: use --database sqlite:///PATH (not {url!r})")
    return path


def _companions(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))]


def is_demo_store(path: Path) -> bool:
    """Made by the demo (marked in its audit log), or an empty ledger (a run stopped early)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        marked = conn.execute("SELECT count(*) FROM audit_log WHERE action = ?",
                              (MARK,)).fetchone()[0]
        used = conn.execute("SELECT (SELECT count(*) FROM ledger) + "
                            "(SELECT count(*) FROM users)").fetchone()[0]
        return bool(marked) or not used
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def fresh_store(url: str | None) -> tuple[Ledger, list[Path]]:
    """Delete the demo's previous store (only if it is the demo's) and create a new one.
    Returns the ledger and the files deleted. The caller holds the store exclusively
    (:class:`~xinyong.ledger.holders.StoreHold`), so no running server loses its file."""
    path = store_path(url)
    removed: list[Path] = []
    if path.exists():
        if not is_demo_store(path):
            raise DemoError(f"{path} holds a ledger the demo did not make; the demo deletes "
                            "its store on every run, so it will not touch this one. Move it "
                            "away, or pass --database sqlite:///another.db")
        for p in _companions(path):
            if p.exists():
                p.unlink()
                removed.append(p)
    ledger = Ledger.open(f"sqlite:///{path}")
    ledger.audit("demo", MARK, None, {"note": "made by `xinyong demo`; the next run deletes "
                                              "and recreates this store"})
    return ledger, removed


# --- policy and population -----------------------------------------------------------------


def policy_summary(policy: Policy, on: date) -> dict[str, int]:
    """What the loaded presets define, as in force on ``on``."""
    view = policy.at(on)
    return {"presets": len(policy.presets), "object versions": len(policy.origins),
            "agencies": len(view.agencies), "categories": len(view.categories),
            "list rules": len(view.list_rules), "memoranda": len(view.memoranda),
            "measures": len(view.measures), "rating schemes": len(view.schemes),
            "feeds": len(view.feeds), "actions": len(policy.actions), "laws": len(policy.laws)}


def history(policy: Policy, today: date, *, seed: int = 0, persons: int = 2000,
            enterprises: int = 400) -> Population:
    """A synthetic population with a year of history ending ``today``."""
    return generate(policy, seed=seed, persons=persons, enterprises=enterprises,
                    start=today - HISTORY + timedelta(days=1), end=today)


# --- users and their examples --------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One request a role may make, and what it shows."""

    method: str
    path: str
    shows: str
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)

    def curl(self, base: str, token: str | None) -> str:
        """A ready-to-paste curl command."""
        parts = ["curl", "-s"]
        if token:
            parts += ["-H", f"Authorization: Bearer {token}"]
        if self.query:
            parts.append("-G")
            for k, v in self.query.items():
                parts += ["--data-urlencode", f"{k}={v}"]
        if self.body is not None:
            parts += ["-H", "content-type: application/json",
                      "-d", json.dumps(self.body, ensure_ascii=False)]
        return " ".join(shlex.quote(p) for p in [*parts, base.rstrip("/") + self.path])


@dataclass(frozen=True)
class DemoUser:
    role: str
    user: str | None
    token: str | None
    acts_for: str
    example: Example


@dataclass(frozen=True)
class Cast:
    """The subjects the examples are about."""

    person: Subject  # the subject user (and the enforcer's example): legal representative
    firm: Subject | None  # of this listed firm, on the public portal
    effect: str  # what the enforcer's example decides about the person
    debtor: Subject  # the subject of the submitter's example (no records so far)


def cast(ledger: Ledger, policy: Policy, population: Population, today: date) -> Cast:
    """Pick subjects that show something: a person who is the legal representative of a firm
    on a published black list (preferably listed too), whose air ticket the airline may not
    simply sell."""
    listed = {n["subject"] for n in notices(ledger) if n["kind"] == "listing"}
    by_id = {s.id: s for s in population.subjects}
    firms_of: dict[str, list[str]] = {}
    for lk in population.links:
        org = by_id[lk.organisation]
        if (lk.role is LinkRole.LEGAL_REPRESENTATIVE and lk.holds_on(today)
                and org.kind is SubjectKind.ENTERPRISE and org.id in listed):
            firms_of.setdefault(lk.party, []).append(org.id)
    # own listing first, then the most listed firms
    candidates = sorted(firms_of, key=lambda p: (p not in listed, -len(firms_of[p]), p))
    stuck = (Effect.DENY, Effect.REVIEW)
    person: Subject | None = None
    firm: Subject | None = None
    effect = Effect.ALLOW
    for pid in candidates[:200]:
        st = standing(ledger, policy, by_id[pid], today)
        d = decide(st, ENFORCER_ACTION)
        if d.effect not in stuck:
            continue
        for fid in firms_of[pid]:
            if public_view(policy, standing(ledger, policy, by_id[fid], today))["list_entries"]:
                person, firm, effect = by_id[pid], by_id[fid], d.effect
                break
        if person is not None:
            break
    if person is None:  # a small population: any listed person, any person
        persons = [s for s in population.subjects if s.is_person]
        if not persons:
            raise DemoError("the population has no persons; use --persons 1 or more")
        person = next((s for s in persons if s.id in listed), persons[0])
        effect = decide(standing(ledger, policy, person, today), ENFORCER_ACTION).effect
    recorded = {r.subject for r in population.records}
    linked = {lk.party for lk in population.links} | {lk.organisation for lk in population.links}
    debtor = next((s for s in population.subjects if s.is_person and s.id not in recorded
                   and s.id not in linked and s.id != person.id), person)
    return Cast(person, firm, effect.value, debtor)


def admin_paths(api: Any) -> list[str]:
    """The GET paths under /admin/ (without parameters) that the HTTP API offers."""
    from fastapi.routing import iter_route_contexts  # the routes of included routers too

    paths = (r.path for r in iter_route_contexts(api.routes) if "GET" in (r.methods or ()))
    return sorted(p for p in paths if p and p.startswith("/admin/") and "{" not in p)


def _identifier(s: Subject) -> str:
    return s.identifiers[0].value if s.identifiers else s.id


def create_users(ledger: Ledger, policy: Policy, c: Cast, today: date,
                 admin_paths: Iterable[str] = ()) -> list[DemoUser]:
    """One user per role (the public needs none), each with a token and an example request.
    ``admin_paths``: GET paths under /admin the service offers (the admin's example is GET
    /admin/policies when it is offered, else GET /notices)."""
    category = policy.at(today).categories[SUBMITTER_CATEGORY]
    record = {"identifier": _identifier(c.debtor), "subject_name": c.debtor.name,
              "subject_region": c.debtor.region, "category": SUBMITTER_CATEGORY,
              "act_date": today.isoformat(), "effective": today.isoformat(),
              "document_no": f"({today.year})演示执{today:%m%d}号",
              "legal_basis": category.legal_basis[0], "amounts": {"amount_owed": "52000"}}
    searched = c.firm or c.person
    admin_path = "/admin/policies" if "/admin/policies" in set(admin_paths) else None
    plan = [
        ("public", None, "anyone", Example(
            "GET", "/public/search", f"the public portal's entry for {searched.name}",
            query={"q": searched.name})),
        ("subject", "demo-subject", f"{c.person.id} {c.person.name}", Example(
            "GET", f"/subjects/{c.person.id}/file", "its own file: entries, measures, "
            "notices, how to lift each" + (f" (legal representative of {c.firm.id} "
                                          f"{c.firm.name}, listed)" if c.firm else ""))),
        ("submitter", "demo-courts", SUBMITTER_AGENCY, Example(
            "POST", "/records", f"a new dishonest-debtor record about {c.debtor.id} "
            f"{c.debtor.name} (twice: written once)", body=record)),
        ("enforcer", "demo-caac", ENFORCER_AGENCY, Example(
            "POST", "/decisions", f"{ENFORCER_ACTION} for {c.person.name}, asked by ID "
            f"number: {c.effect}", body={"subject": _identifier(c.person),
                                         "action": ENFORCER_ACTION})),
        ("reviewer", "demo-reviewer", "—", Example(
            "GET", "/cases", "significant measures awaiting a person's confirmation",
            query={"kind": "review"})),
        ("admin", "demo-admin", "—",
         Example("GET", admin_path, "the policy running and the versions loaded") if admin_path else
         Example("GET", "/notices", "every notice served")),
    ]
    users = []
    for role, user, acts_for, example in plan:
        token = None
        if user is not None:
            token = add_user(ledger, user, role, by="demo",
                             subject=c.person.id if role == "subject" else None,
                             agency={"submitter": SUBMITTER_AGENCY,
                                     "enforcer": ENFORCER_AGENCY}.get(role))
        users.append(DemoUser(role, user, token, acts_for, example))
    return users
