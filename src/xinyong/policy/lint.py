"""Legality checks against a profile (DESIGN §5).

``cn-2021``: legal basis everywhere, catalog-only categories, no penalty triggered by a score
alone (directly or through a chain of lists), measures only from the basic list and only on the
targets their basis names, publicity periods within bounds.
``eu-ai-act``: no social scoring leading to detrimental treatment in unrelated contexts.
``historical``: both, as warnings — the pilots as they were, allowed for study.
Scheme versions the loader derives from a profile rule are not linted: their authors wrote
only the version they come from.
Without a profile, each preset is checked against the profile it declares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from xinyong.model import LinkRole, SubjectKind
from xinyong.periods import Period
from xinyong.policy.model import Policy
from xinyong.policy.schema import (
    Category,
    Domain,
    LawRank,
    ListColour,
    ListRule,
    Measure,
    MeasureKind,
    Memorandum,
    Profile,
    Scheme,
)

SOURCES = {
    "legal-basis": "GuoBanFa (2020) No. 49 (lawful basis); National Basic List of Punishment "
    "Measures (2021): each measure rests on a law, administrative regulation or central policy",
    "catalog-only": "National Basic Catalog of Public Credit Information (2021): nothing outside "
    "the catalog may be collected",
    "no-score-penalty": "2019/2020 central clarifications, GuoBanFa (2020) No. 49: scores alone "
    "cannot be used to impose penalties",
    "basic-list-only": "National Basic List of Punishment Measures (2021, rev. 2024): agencies may "
    "not add measures, widen targets or exceed the legal standard",
    "publicity-bounds": "NDRC Order No. 58 (2023): administrative penalties shown 3 months to 3 "
    "years; individuals' administrative penalties in principle not public",
    "basis-in-force": "GuoBanFa (2020) No. 49 (lawful basis): a rule rests on law in force "
    "when it takes effect",
    "listing-ends": "GuoBanFa (2020) No. 49 (proportionate punishment): every listing has an end "
    "or a way off",
    "target-within-basis": "National Basic List of Punishment Measures (2021, rev. 2024): agencies "
    "may not widen a measure's targets beyond its legal basis; GuoBanFa (2020) No. 49 (narrow "
    "scope)",
    "social-scoring": "EU AI Act Art. 5(1)(c): social scoring of natural persons leading to "
    "detrimental or unfavourable treatment in unrelated contexts is prohibited",
    "social-behaviour-list": "EU AI Act Art. 5(1)(c): classification of natural persons by "
    "social behaviour leading to detrimental treatment",
}

STRONG_RANKS = {
    LawRank.LAW,
    LawRank.ADMINISTRATIVE_REGULATION,
    LawRank.CENTRAL_POLICY,
    LawRank.JUDICIAL_INTERPRETATION,
}
MAX_PUBLICITY = Period(years=3)


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int | None
    rule: str
    obj: str
    reason: str
    source: str
    severity: str  # "error" | "warning"
    preset: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: [{self.rule}] {self.obj}: {self.reason} ({self.source})"


def lint(
    policy: Policy, profile: Profile | None = None, files: Iterable[str] | None = None
) -> list[Finding]:
    """Findings for every object (or only those from ``files``), sorted by file and line."""
    wanted = set(files) if files is not None else None
    out: list[Finding] = []
    for raw in _cn_2021(policy):
        out.extend(_emit(policy, raw, "cn-2021", profile, wanted))
    for raw in _eu_ai_act(policy):
        out.extend(_emit(policy, raw, "eu-ai-act", profile, wanted))
    out.sort(key=lambda f: (f.file, f.line or 0, f.rule, f.obj))
    return out


_Raw = tuple[str, Any, str, str]  # section, object, rule, reason


def _emit(policy: Policy, raw: _Raw, family: str, profile: Profile | None,
          wanted: set[str] | None) -> Iterator[Finding]:
    section, obj, rule, reason = raw
    origin = policy.origin(section, obj)
    if origin is None or (wanted is not None and not _under(origin.file, wanted)):
        return
    declared = policy.presets[origin.preset].profile if origin.preset in policy.presets else None
    applied = profile or declared or Profile.CN_2021
    if applied is Profile.HISTORICAL:
        severity = "warning"
    elif applied.value == family:
        severity = "error"
    else:
        return
    yield Finding(origin.file, origin.line, rule, f"{section}[{obj.id}]", reason,
                  SOURCES[rule], severity, origin.preset)


def _under(file: str, wanted: set[str]) -> bool:
    return any(file == w or file.startswith(w.rstrip("/") + "/") for w in wanted)


# --- cn-2021 -------------------------------------------------------------------------


def _cn_2021(policy: Policy) -> Iterator[_Raw]:
    measures = {m.id: m for m in policy.all("measure")}
    schemes = {s.id: s for s in policy.all("scheme")}
    categories = {c.id: c for c in policy.all("category")}
    rules_by_list: dict[str, list[ListRule]] = {}
    for r in policy.all("list_rule"):
        rules_by_list.setdefault(r.list_id, []).append(r)

    for m in measures.values():
        if m.kind is MeasureKind.RESTRICT and not _strong_basis(policy, m.legal_basis):
            yield ("measure", m, "legal-basis",
                   "a punishment measure must rest on a law, an administrative regulation or a "
                   "central policy document; it cites only " + ", ".join(m.legal_basis))

    for c in categories.values():
        if not c.national_catalog:
            yield ("category", c, "catalog-only",
                   f"category {c.id!r} ({c.title}) is outside the National Basic Catalog")
        yield from _publicity(c)

    for section in ("agency", "category", "measure", "list_rule", "memorandum", "scheme"):
        for obj in _authored(policy, section):
            dates = [law.issued for ref in obj.legal_basis
                     if (law := policy.laws.get(ref.split("#", 1)[0])) is not None]
            if dates and min(dates) > obj.effective_from:
                yield (section, obj, "basis-in-force",
                       f"takes effect on {obj.effective_from} but every law it cites was issued "
                       f"later (earliest {min(dates)})")

    for r in policy.all("list_rule"):
        t = r.trigger
        restricts = _restricting_clauses(policy, r.list_id, measures)
        if t.scheme is not None:
            s = schemes.get(t.scheme)
            if restricts:
                yield ("list_rule", r, "no-score-penalty",
                       f"{r.colour.value} list triggered by grade {'/'.join(t.grades)} of scheme "
                       f"{t.scheme!r}{' (' + s.title + ')' if s else ''} carries punishment "
                       f"measures ({', '.join(sorted(restricts))})")
        elif t.list is not None and restricts:
            for chain in _score_chains(t.list, rules_by_list):
                *lists, grade = chain
                yield ("list_rule", r, "no-score-penalty",
                       f"{r.colour.value} list {r.list_id!r} carries punishment measures "
                       f"({', '.join(sorted(restricts))}) and is fed by a score through the "
                       f"chain {' <- '.join([r.list_id, *lists, grade])}")
        if (r.colour is ListColour.BLACK or restricts) and r.duration is None \
                and r.removal.maximum is None \
                and r.removal.rectification_working_days is None \
                and r.removal.application_after is None:
            yield ("list_rule", r, "listing-ends",
                   "black list with no duration, no maximum and no way off by rectification or "
                   "repair")

    for memo in policy.all("memorandum"):
        for clause in memo.clause:
            m = measures.get(clause.measure)
            if m is not None and _punishes(m) and not m.basic_list:
                yield ("memorandum", memo, "basic-list-only",
                       f"clause {clause.id!r} applies {m.id!r} ({m.title}), which is not in the "
                       "National Basic List of Punishment Measures")
            if m is not None and m.basic_list:
                for path in clause.extend_to:
                    why = _beyond_basis(m, path)
                    if why:
                        yield ("memorandum", memo, "target-within-basis",
                               f"clause {clause.id!r} extends {m.id!r} ({m.title}) to {path!r}, "
                               f"but {why}. Fix: remove {path!r} from the clause's extend_to, "
                               "or, if the measure's legal basis names that target, declare it "
                               f"in measure {m.id!r} (roles / subject_kinds)")


def _authored(policy: Policy, section: str) -> list[Any]:
    """The versions written in the files (not those derived from a profile rule)."""
    return [o for o in policy.all(section) if not getattr(o, "withdrawn", ())]


def _score_chains(list_id: str, rules_by_list: dict[str, list[ListRule]],
                  seen: frozenset[str] = frozenset()) -> Iterator[list[str]]:
    """Every chain of list triggers from ``list_id`` back to a grade: the lists, then
    "grade G of scheme S". A list already on the chain is not followed again (a cycle)."""
    if list_id in seen:
        return
    for rule in rules_by_list.get(list_id, ()):
        t = rule.trigger
        if t.scheme is not None:
            yield [list_id, f"grade {'/'.join(t.grades)} of scheme {t.scheme!r}"]
        elif t.list is not None:
            for chain in _score_chains(t.list, rules_by_list, seen | {list_id}):
                yield [list_id, *chain]


def _path_kinds(path: str) -> set[SubjectKind]:
    """Who a link path can end at: a legal representative or responsible person is a natural
    person; a shareholder or actual controller a person or a firm; '_of' an organisation."""
    last = path.rsplit("/", 1)[-1]
    organisations = {SubjectKind.ENTERPRISE, SubjectKind.PUBLIC_BODY, SubjectKind.SOCIAL_ORG}
    if last.endswith("_of"):
        return organisations
    if last in (LinkRole.LEGAL_REPRESENTATIVE.value, LinkRole.RESPONSIBLE_PERSON.value):
        return {SubjectKind.PERSON}
    return {SubjectKind.PERSON, SubjectKind.ENTERPRISE}


def _beyond_basis(m: Measure, path: str) -> str:
    """Why extending ``m`` along ``path`` goes beyond what its basis allows ('' if it does not)."""
    if path not in m.roles:
        allowed = ", ".join(repr(r) for r in m.roles) or "none: it reaches the listed subject only"
        return (f"its legal basis ({', '.join(m.legal_basis)}) does not name that role "
                f"(declared roles: {allowed})")
    kinds = _path_kinds(path)
    if m.subject_kinds and not kinds & set(m.subject_kinds):
        return (f"the path reaches {'/'.join(sorted(k.value for k in kinds))} subjects and its "
                f"legal basis allows only {', '.join(k.value for k in m.subject_kinds)}")
    return ""


def _strong_basis(policy: Policy, refs: Iterable[str]) -> bool:
    for ref in refs:
        law = policy.laws.get(ref.split("#", 1)[0])
        if law is not None and law.rank in STRONG_RANKS:
            return True
    return False


def _publicity(c: Category) -> Iterator[_Raw]:
    pub = c.publicity
    if c.domain is Domain.JUDICIAL or pub.max is None:
        return
    if pub.max.approx_days() > MAX_PUBLICITY.approx_days():
        yield ("category", c, "publicity-bounds",
               f"displayed for {pub.max}, longer than the 3-year maximum")
    if pub.persons and SubjectKind.PERSON in c.subject_kinds and c.domain is Domain.GOVERNMENT:
        yield ("category", c, "publicity-bounds",
               "individuals' administrative penalties are in principle not displayed publicly")


def _punishes(m: Any) -> bool:
    """A restriction, or a notice significant enough to need a person's confirmation (it names
    the subject to others: Zhengzhou's message to callers, Shenzhen's display)."""
    return bool(m.kind is MeasureKind.RESTRICT or (m.kind is MeasureKind.NOTICE and m.significant))


def _restricting_clauses(policy: Policy, list_id: str, measures: dict[str, Any]) -> set[str]:
    out = set()
    for memo in policy.all("memorandum"):
        for clause in memo.clause:
            m = measures.get(clause.measure)
            if clause.list == list_id and m is not None and _punishes(m):
                out.add(m.id)
    return out


# --- eu-ai-act ------------------------------------------------------------------------


def _eu_ai_act(policy: Policy) -> Iterator[_Raw]:
    measures = {m.id: m for m in policy.all("measure")}
    categories = {c.id: c for c in policy.all("category")}
    for s in _authored(policy, "scheme"):
        if SubjectKind.PERSON not in s.subject_kinds:
            continue
        treatment = _grade_treatment(policy, s, measures)
        if not treatment and not s.public:
            continue
        used = _scheme_categories(s)
        domains = {categories[c].domain for c in used if c in categories}
        social = sorted(c for c in used if c in categories
                        and categories[c].domain is Domain.SOCIAL)
        contexts = sorted({measures[m].context for m in treatment})
        if social or len(domains) > 1:
            basis = (f"social behaviour ({', '.join(social[:4])})" if social
                     else f"records from unrelated domains ({', '.join(sorted(domains))})")
            effect = (f"its grades lead to treatment in {', '.join(contexts)} "
                      f"({', '.join(sorted(treatment))})" if treatment
                      else "its grades are published, exposing people in every context")
            yield ("scheme", s, "social-scoring",
                   f"scores natural persons on {basis} and {effect}")
    for r in policy.all("list_rule"):
        if SubjectKind.PERSON not in r.subject_kinds or not r.trigger.categories:
            continue
        social = [c for c in r.trigger.categories
                  if c in categories and categories[c].domain is Domain.SOCIAL]
        restricts = _restricting_clauses(policy, r.list_id, measures)
        if social and restricts:
            yield ("list_rule", r, "social-behaviour-list",
                   f"lists natural persons for social behaviour ({', '.join(social)}) with "
                   f"punishment in other contexts ({', '.join(sorted(restricts))})")


def _scheme_categories(s: Scheme) -> set[str]:
    return {c for i in s.indicator for c in i.categories}


def _grade_treatment(policy: Policy, s: Scheme, measures: dict[str, Any]) -> set[str]:
    lists = {r.list_id for r in policy.all("list_rule") if r.trigger.scheme == s.id}
    out: set[str] = set()
    for memo in policy.all("memorandum"):
        assert isinstance(memo, Memorandum)
        for clause in memo.clause:
            m = measures.get(clause.measure)
            if clause.list in lists and m is not None and m.kind is not MeasureKind.NOTICE:
                out.add(m.id)
    return out
