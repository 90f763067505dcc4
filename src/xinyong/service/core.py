"""One authorization table, enforced in one place, and an audit entry for every access.

Each operation names the roles that may call it and whether a subject may only touch its own
data. A refused request is audited like any other, with who asked and why it was refused."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypeVar, overload

from xinyong.engine import decide
from xinyong.engine.explain import decision_data, explain, public_view
from xinyong.ledger.store import Ledger, LedgerError
from xinyong.model import Standing, record_key
from xinyong.policy.model import Policy
from xinyong.standings import Cache, Entry, UnknownSubject, standing, standings


class Unauthorized(Exception):
    """No valid token where one is needed (HTTP 401)."""


class Forbidden(Exception):
    """The role may not do this, or not to this subject (HTTP 403)."""


class NotFound(Exception):
    """No such subject, action or case (HTTP 404)."""


class Invalid(Exception):
    """Bad input, every problem listed with a JSON pointer to its field (HTTP 422)."""

    def __init__(self, detail: str, errors: list[dict[str, str]]):
        super().__init__(detail)
        self.errors = errors


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user with a role, acting for a subject or an agency; or the public."""

    user: str
    role: str
    subject: str | None = None
    agency: str | None = None

    @property
    def actor(self) -> str:
        return "public" if self.role == "public" else f"{self.role}:{self.user}"


PUBLIC = Principal("anonymous", "public")


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    own_only: frozenset[str] = frozenset()
    """Roles that may act only on their own subject."""


def _rule(*roles: str, own: tuple[str, ...] = ()) -> Rule:
    return Rule(frozenset(roles), frozenset(own))


ACCESS: dict[str, Rule] = {
    "public.search": _rule("public", "subject", "submitter", "enforcer", "reviewer", "admin"),
    "subject.file": _rule("subject", "reviewer", "admin", own=("subject",)),
    "decisions": _rule("enforcer", "operator"),
    "records.submit": _rule("submitter"),
    "objections.file": _rule("subject"),
    "repairs.apply": _rule("subject"),
    "cases.list": _rule("subject", "reviewer", "admin", own=("subject",)),
    "cases.resolve": _rule("subject", "reviewer", own=("subject",)),
    "notices.list": _rule("subject", "submitter", "enforcer", "reviewer", "admin",
                          own=("subject",)),
    "policies.list": _rule("admin"),
    "policies.load": _rule("admin"),
    "policies.impact": _rule("admin"),
    "policies.activate": _rule("admin"),
    "jobs.list": _rule("admin"),
    "jobs.read": _rule("admin"),
    "jobs.cancel": _rule("admin"),
}
"""operation → who may call it. The whole authorization policy of the service. ``operator``
is the command line on the database (`xinyong decide --database`), a role no token has."""


F = TypeVar("F", bound=Callable[..., Any])

ON_THE_LOOP = 100
"""Most asks a batch may have to be decided on the event loop rather than in a thread."""


def audited(op: str) -> Callable[[F], F]:
    """A request refused on its merits (bad input, unknown subject, a move a case does not
    allow) is audited too, with the reason; permission refusals are audited by the gate."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(self: Service, who: Principal, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, who, *args, **kwargs)
            except (LedgerError, NotFound, Invalid) as e:
                self.ledger.audit(who.actor, f"failed:{op}", who.subject, {"why": str(e)})
                raise
        return run  # type: ignore[return-value]
    return wrap


class Service:
    def __init__(self, ledger: Ledger, policy: Policy, files: dict[str, str] | None = None,
                 running: str = "policy folder"):
        self.ledger, self.policy = ledger, policy
        self.files = files or {}
        """The running policy's files, the base a newly loaded version is laid over."""
        self.running = running
        """Where the running policy came from: the policy folder or a version id."""

    def use(self, policy: Policy, files: dict[str, str], running: str) -> None:
        """Switch to another policy version (admin activation)."""
        self.policy, self.files, self.running = policy, files, running

    # -- the one gate ----------------------------------------------------------------------

    def authorize(self, who: Principal, op: str, subject: str | None = None) -> None:
        rule = ACCESS[op]
        why = None
        if who.role not in rule.roles:
            why = f"role {who.role} may not {op}"
        elif who.role in rule.own_only and subject is not None and subject != who.subject:
            why = f"a {who.role} may only {op} its own data"
        if why is not None:
            self.ledger.audit(who.actor, f"refused:{op}", subject, {"why": why})
            if who.role == "public":
                raise Unauthorized(f"{op} needs a token")
            raise Forbidden(why)

    def _subject(self, key: str) -> Any:
        try:
            return self.ledger.resolve(key, self.policy)
        except (UnknownSubject, ValueError) as e:
            raise NotFound(str(e)) from None

    # -- operations ------------------------------------------------------------------------

    @audited("public.search")
    def search(self, who: Principal, q: str, on: date, limit: int = 20) -> list[dict[str, Any]]:
        """What the public credit portal shows for subjects matching a name or code."""
        self.authorize(who, "public.search")
        ids = self.ledger.find_subjects(q, limit)
        found = []
        for s in self.ledger.subjects(ids).values():
            view = public_view(self.policy, standing(self.ledger, self.policy, s, on))
            if view["list_entries"] or view["displayed"]:
                found.append(view)
        self.ledger.audit(who.actor, "public.search", None, {"q": q, "results": len(found)})
        return found

    @audited("subject.file")
    def file(self, who: Principal, key: str, on: date) -> dict[str, Any]:
        """A subject's own full file: explanations, notices, cases and repair options."""
        from xinyong.ledger.cases import load
        from xinyong.process.workflow import notices

        s = self._subject(key)
        self.authorize(who, "subject.file", s.id)
        st = standing(self.ledger, self.policy, s, on)
        body = explain(self.policy, st)
        body["notices"] = [_plain(n) for n in notices(self.ledger, subject=s.id)]
        body["cases"] = [c.as_dict() for c in load(self.ledger, subjects=[s.id])]
        body["repair_options"] = [
            {"target": record_key(d.record), "from": d.earliest_repair.isoformat()}
            for d in st.displayed] + [
            {"target": f"list:{e.list}", "from": e.earliest_application.isoformat()}
            for e in st.active_entries
            if e.subject == s.id and e.earliest_application is not None]
        self.ledger.audit(who.actor, "subject.file", s.id, {"on": on.isoformat()})
        return body

    @audited("decisions")
    def decisions(self, who: Principal, asks: list[tuple[str, str, date]],
                  known_at: datetime | None = None) -> list[dict[str, Any]]:
        """Decisions for an enforcer: only measures of memoranda its agency signed.

        Each (subject, date) is evaluated once however often it is asked, the subjects of a
        batch in bulk, and standings are kept while the ledger's data and the policy stay as
        they are (``standings.Cache``): a repeated ask costs only the decision. ``known_at`` replays
        an earlier transaction time (only what was recorded by then), past the cache."""
        self.authorize(who, "decisions")
        standings = (self._standings_for(asks, who.agency) if known_at is None
                     else self._standings_known_at(asks, who.agency, known_at))
        out, detail = self._decide(asks, standings)
        if known_at is not None:
            detail["known_at"] = known_at.isoformat()
        self.ledger.audit(who.actor, "decisions", asks[0][0] if len(asks) == 1 else None,
                          detail)
        return out

    async def decisions_async(self, who: Principal,
                              asks: list[tuple[str, str, date]]) -> list[dict[str, Any]]:
        """:meth:`decisions` for a caller on an event loop. When the caller may ask, the batch
        is small and every standing asked for is cached, the decisions are made on the loop
        (~10 µs each; up to ``ON_THE_LOOP`` of them, so the loop is never held long) and
        the audit entry's commit is awaited without holding a thread; anything else (a
        refusal, an unknown subject or action, a standing to compute) takes the full path in
        a worker thread, with its own auditing."""
        import asyncio

        fast = None
        if who.role in ACCESS["decisions"].roles and len(asks) <= ON_THE_LOOP:
            cached = self._standings_for(asks, who.agency, cached_only=True)
            if cached is not None:
                try:
                    fast = self._decide(asks, cached)
                except NotFound:
                    fast = None
        if fast is None:
            return await asyncio.get_running_loop().run_in_executor(
                None, self.decisions, who, asks)
        out, detail = fast
        await self.ledger.audit_async(who.actor, "decisions",
                                      asks[0][0] if len(asks) == 1 else None, detail)
        return out

    def _decide(self, asks: list[tuple[str, str, date]],
                standings: dict[tuple[str, date], Standing | NotFound],
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The decisions, and the audit entry's detail that records them."""
        out = []
        for key, action, on in asks:
            standing = standings[key, on]
            if isinstance(standing, NotFound):
                raise NotFound(str(standing)) from None
            try:
                d = decide(standing, action)
            except ValueError as e:  # unknown action
                raise NotFound(str(e)) from None
            out.append(decision_data(self.policy, standing, d))
        return out, {"asks": [[k, a, d.isoformat()] for k, a, d in asks],
                     "effects": [o["effect"] for o in out]}

    def _standings_known_at(self, asks: list[tuple[str, str, date]], agency: str | None,
                            known_at: datetime) -> dict[tuple[str, date], Standing | NotFound]:
        """As :meth:`_standings_for`, on what the ledger held at ``known_at``; never cached."""
        out: dict[tuple[str, date], Standing | NotFound] = {}
        for key, on in dict.fromkeys((key, on) for key, _, on in asks):
            try:
                subject = self._subject(key)
            except NotFound as e:
                out[key, on] = e
                continue
            st = standing(self.ledger, self.policy, subject, on, known_at)
            out[key, on] = self._signed_only(st, agency)
        return out

    @overload
    def _standings_for(self, asks: list[tuple[str, str, date]], agency: str | None,
                       ) -> dict[tuple[str, date], Standing | NotFound]: ...

    @overload
    def _standings_for(self, asks: list[tuple[str, str, date]], agency: str | None,
                       cached_only: bool) -> dict[tuple[str, date], Standing | NotFound] | None:
        ...

    def _standings_for(self, asks: list[tuple[str, str, date]], agency: str | None,
                       cached_only: bool = False,
                       ) -> dict[tuple[str, date], Standing | NotFound] | None:
        """For each (subject key, date) asked: the standing as the agency sees it, or the
        NotFound the key gives. From the cache where it holds, the rest computed in bulk;
        with ``cached_only``, None unless every one is in the cache (nothing is read but the
        ledger's generation)."""
        policy = self.policy
        cache = Cache.of(self)
        state = cache.use(self.ledger.generation(), policy)
        pairs = list(dict.fromkeys((key, on) for key, _, on in asks))
        subjects: dict[str, Any] = {}
        for key in dict.fromkeys(k for k, _ in pairs):
            subjects[key] = cache.subject(state, key)
        unknown = [k for k, s in subjects.items() if s is None]
        if unknown and cached_only:
            return None
        if unknown:  # ids in one query each 500; identifiers (and errors) one by one
            found = {k: s for i in range(0, len(unknown), 500)
                     for k, s in self.ledger.subjects(unknown[i:i + 500]).items()}
            for key in unknown:
                try:
                    subjects[key] = found.get(key) or self._subject(key)
                except NotFound as e:
                    subjects[key] = e
                    continue
                cache.keep_subject(state, key, subjects[key])
        entries: dict[tuple[str, date], Entry] = {}
        todo: dict[date, dict[str, Any]] = {}
        for key, on in pairs:
            s = subjects[key]
            if not isinstance(s, NotFound):
                hit = cache.get(state, s.id, on)
                if hit is not None:
                    entries[s.id, on] = hit
                elif cached_only:
                    return None
                else:
                    todo.setdefault(on, {})[s.id] = s
        for on, wanted in todo.items():
            for sid, st in standings(self.ledger, policy, wanted.values(), on).items():
                entries[sid, on] = cache.keep(state, sid, on, st)
        out: dict[tuple[str, date], Standing | NotFound] = {}
        for key, on in pairs:
            s = subjects[key]
            if isinstance(s, NotFound):
                out[key, on] = s
                continue
            entry = entries[s.id, on]
            view = entry.signed.get(agency)
            if view is None:
                view = entry.signed[agency] = self._signed_only(entry.standing, agency)
            out[key, on] = view
        return out

    @audited("records.submit")
    def submit(self, who: Principal, records: list[dict[str, Any]],
               key: str | None = None, feed_id: str | None = None) -> dict[str, Any]:
        """An agency's records, validated exactly as a file is by ``xinyong ingest``: all or
        nothing, every bad record listed; the same idempotency key (or the same records)
        twice writes nothing the second time."""
        import hashlib
        import json
        from pathlib import Path

        from xinyong.ledger.ingest import Ingest, IngestError

        self.authorize(who, "records.submit")
        assert who.agency is not None
        rows = [{k: v for k, v in rec.items() if k != "amounts"}
                | {f"amount.{name}": v for name, v in rec.get("amounts", {}).items()}
                for rec in records]
        body = json.dumps(records, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(body.encode()).hexdigest()
        ingest = Ingest(self.ledger, self.policy, who.agency, Path(f"api-{key or 'batch'}"),
                        feed_id)
        try:
            report = ingest.ingest_rows(rows, digest, key or digest)
        except IngestError as e:
            if not e.errors:  # the feed, or the batch as a whole
                raise Invalid(str(e).split(": ", 1)[-1], []) from None
            raise Invalid(f"{len(e.errors)} bad record(s); nothing was written", [
                {"pointer": f"/body/records/{err.line - 1}/"
                 + err.field.replace("amount.", "amounts/"), "detail": err.reason}
                for err in e.errors]) from None
        return {"ingest": report.ingest_id, "already_submitted": report.already_ingested,
                "records": report.rows, "written": report.written,
                "already_recorded": report.already_recorded,
                "new_subjects": report.new_subjects,
                "queued_for_review": report.queued_for_review}

    @audited("objections.file")
    def object(self, who: Principal, target: str, reason: str,
               rules: str = "credit-reporting") -> dict[str, Any]:
        """The subject objects to its record, list entry or grade (or, as a legal
        representative, to its firm's record)."""
        from xinyong.process.workflow import OBJECTION_DAYS, file_objection

        self.authorize(who, "objections.file")
        if rules not in OBJECTION_DAYS:
            raise Invalid("unknown rules", [{"pointer": "/body/rules",
                                             "detail": f"use {' or '.join(OBJECTION_DAYS)}"}])
        me = self._subject(who.subject or "")
        return file_objection(self.ledger, self.policy, me, target, reason,
                              days=OBJECTION_DAYS[rules]).as_dict()

    @audited("repairs.apply")
    def repair(self, who: Principal, target: str, reason: str,
               commitment: str = "") -> dict[str, Any]:
        from xinyong.process.workflow import apply_for_repair

        self.authorize(who, "repairs.apply")
        me = self._subject(who.subject or "")
        return apply_for_repair(self.ledger, self.policy, me, target, reason,
                                commitment).as_dict()

    @audited("cases.list")
    def cases(self, who: Principal, kind: str | None, on: date) -> list[dict[str, Any]]:
        """Cases with their state; a subject sees its own (those it filed or about it)."""
        from xinyong.ledger.cases import load

        self.authorize(who, "cases.list")
        found = load(self.ledger, kind=kind)
        if who.role == "subject":
            mine = {f"subject:{who.subject}", f"legal_representative:{who.subject}"}
            found = [c for c in found if c.subject == who.subject or c.filed_by in mine]
        self.ledger.audit(who.actor, "cases.list", who.subject, {"kind": kind,
                                                                  "count": len(found)})
        return [c.as_dict() | {"overdue": c.overdue(on)} for c in found]

    @audited("cases.resolve")
    def resolve(self, who: Principal, case_id: str, outcome: str,
                reasons: str) -> dict[str, Any]:
        """A reviewer decides a case; a subject may only withdraw its own objection."""
        from xinyong.ledger.cases import load
        from xinyong.process.workflow import resolve

        found = load(self.ledger, case_id=case_id)
        if not found:
            self.authorize(who, "cases.resolve")
            raise NotFound(f"no case {case_id!r}")
        case = found[0]
        filer = case.filed_by.split(":", 1)[-1]
        self.authorize(who, "cases.resolve", filer if who.role == "subject" else None)
        if who.role == "subject" and outcome != "withdrawn":
            self.ledger.audit(who.actor, "refused:cases.resolve", case.subject,
                              {"why": "a subject may only withdraw its objection"})
            raise Forbidden("a subject may only withdraw its own objection")
        by = case.filed_by if who.role == "subject" else who.actor
        res = resolve(self.ledger, self.policy, case_id, outcome, reasons, by)
        return res.case.as_dict() | {"revoked": res.revoked, "repaired": res.repaired,
                                     "notices": res.notices}

    @audited("notices.list")
    def notices(self, who: Principal) -> list[dict[str, Any]]:
        """A subject's notices, an agency's (corrections), or all for reviewers and admins."""
        from xinyong.process.workflow import notices

        self.authorize(who, "notices.list")
        if who.role == "subject":
            found = notices(self.ledger, subject=who.subject)
        elif who.role in ("submitter", "enforcer"):
            found = notices(self.ledger, recipient=f"agency:{who.agency}")
        else:
            found = notices(self.ledger)
        self.ledger.audit(who.actor, "notices.list", who.subject, {"count": len(found)})
        return [_plain(n) for n in found]

    def _signed_only(self, standing: Standing, agency: str | None) -> Standing:
        if agency is None:  # the operator: an enforcer always acts for an agency (add_user)
            return standing
        view = self.policy.at(standing.as_of)
        signed = {m for m, memo in view.memoranda.items() if agency in memo.signatories}
        by_action = {a: tuple(m for m in ms if m.memorandum in signed)
                     for a, ms in standing.by_action.items()}
        return replace(standing, by_action=by_action)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}
