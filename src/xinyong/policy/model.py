"""A loaded policy: every version of every object, and views of what is in force."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from xinyong.ids import ChecksumException, Identifier, IdScheme, validate
from xinyong.periods import WorkingCalendar
from xinyong.policy.data_class import SensitiveTerms
from xinyong.policy.schema import (
    Action,
    Agency,
    Category,
    Clause,
    Document,
    Feed,
    Law,
    ListRule,
    Measure,
    Memorandum,
    Preset,
    RepairRule,
    Scheme,
    Versioned,
    cited_document,
)

VERSIONED = ("agency", "category", "measure", "list_rule", "memorandum", "scheme", "feed",
             "repair_rule")


@dataclass(frozen=True, slots=True)
class Origin:
    file: str
    preset: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Binding:
    """A memorandum clause bound to the measure it applies, with its static legal basis."""

    memorandum: Memorandum
    clause: Clause
    measure: Measure
    kind: str
    effect: str
    legal_basis: tuple[str, ...]


@dataclass(frozen=True)
class PolicyView:
    """What is in force on one day, indexed for evaluation."""

    day: date
    version: str
    agencies: Mapping[str, Agency]
    categories: Mapping[str, Category]
    measures: Mapping[str, Measure]
    list_rules: Mapping[str, ListRule]
    """In dependency order: a list triggered by another comes after it."""
    memoranda: Mapping[str, Memorandum]
    schemes: Mapping[str, Scheme]
    bindings_by_list: Mapping[str, tuple[Binding, ...]]
    """Clauses applying to members of each list."""
    feeds: Mapping[str, Feed]
    rules_by_category: Mapping[str, tuple[ListRule, ...]]
    """List rules a record of each category can trigger."""
    extensions: Mapping[str, tuple[tuple[str, Binding], ...]]
    """Per link path: (list, binding) of clauses extending to subjects along that path."""
    max_path: int


@dataclass(frozen=True)
class Policy:
    presets: Mapping[str, Preset]
    versions: Mapping[str, Mapping[str, tuple[Any, ...]]]
    laws: Mapping[str, Law]
    actions: Mapping[str, Action]
    calendars: Mapping[str, WorkingCalendar]
    exceptions: tuple[ChecksumException, ...]
    origins: Mapping[tuple[str, str, date | None], Origin]
    digest: str
    breaks: tuple[date, ...]
    sensitive: SensitiveTerms = field(default_factory=SensitiveTerms, compare=False, repr=False)
    """The bilingual sensitive-term list, for screening what arrives at run time."""
    _views: dict[int, PolicyView] = field(default_factory=dict, compare=False, repr=False)
    documents: Mapping[str, Document] = field(default_factory=dict)
    """The bibliography: documents that sources cite besides the laws."""

    @classmethod
    def assemble(
        cls,
        presets: Mapping[str, Preset],
        objects: Mapping[str, list[tuple[Any, Origin]]],
        digest: str,
    ) -> Policy:
        versions: dict[str, dict[str, list[Any]]] = {s: defaultdict(list) for s in VERSIONED}
        origins: dict[tuple[str, str, date | None], Origin] = {}
        breaks: set[date] = set()
        for section in VERSIONED:
            for obj, origin in objects.get(section, []):
                versions[section][obj.id].append(obj)
                origins[(section, obj.id, obj.effective_from)] = origin
                breaks.add(obj.effective_from)
                if obj.effective_to is not None:
                    breaks.add(obj.effective_to)
        laws = {o.id: o for o, _ in objects.get("law", [])}
        breaks.update(law.issued for law in laws.values())  # citations change when laws appear
        for section in ("law", "document", "action", "calendar"):
            for obj, origin in objects.get(section, []):
                origins[(section, obj.id, None)] = origin
        cals = {
            c.id: WorkingCalendar.of(c.holidays, c.workdays, c.published_from, c.published_to)
            for c, _ in objects.get("calendar", [])
        }
        exceptions = tuple(
            ChecksumException(IdScheme(e.scheme), e.value, e.reason, e.approved_by)
            for e, _ in objects.get("identifier_exception", [])
        )
        frozen = {
            s: {i: tuple(sorted(v, key=lambda o: o.effective_from)) for i, v in d.items()}
            for s, d in versions.items()
        }
        return cls(
            presets=dict(presets),
            versions=frozen,
            laws=laws,
            documents={d.id: d for d, _ in objects.get("document", [])},
            actions={a.id: a for a, _ in objects.get("action", [])},
            calendars=cals,
            exceptions=exceptions,
            origins=origins,
            digest=digest,
            breaks=tuple(sorted(breaks)),
        )

    def cited(self, citation: str) -> Document | Law | None:
        """The document or law a ``sources`` citation names (None if unknown)."""
        ident = cited_document(citation)[0]
        return self.documents.get(ident) or self.laws.get(ident)

    def basis_on(self, refs: tuple[str, ...], day: date) -> tuple[str, ...]:
        """The references among ``refs`` to laws already issued on ``day``: a decision never
        cites a law that did not exist yet (all of them if none did; lint reports that)."""
        issued = tuple(r for r in refs if (law := self.laws.get(r.split("#", 1)[0])) is None
                       or law.issued <= day)
        return issued or refs

    def identifier(self, scheme: str, value: str) -> Identifier:
        """Validate an identifier, accepting only this policy's audited checksum exceptions."""
        return validate(scheme, value, self.exceptions)

    def origin(self, section: str, obj: Any) -> Origin | None:
        key = (section, obj.id, getattr(obj, "effective_from", None))
        return self.origins.get(key)

    def preset_of(self, section: str, obj: Any) -> str:
        o = self.origin(section, obj)
        return o.preset if o else ""

    def all(self, section: str) -> list[Any]:
        return [v for vs in self.versions.get(section, {}).values() for v in vs]

    def repair_rule(self, day: date) -> RepairRule | None:
        """The credit-repair procedure in force on ``day``, if a preset declares one."""
        rules = self._pick("repair_rule", day)
        return rules[min(rules)] if rules else None

    def calendar(self, ident: str) -> WorkingCalendar:
        return self.calendars.get(ident) or WorkingCalendar()

    def at(self, day: date) -> PolicyView:
        """The view in force on ``day`` (cached per interval between effective dates)."""
        seg = bisect_right(self.breaks, day)
        view = self._views.get(seg)
        if view is None:
            view = self._build_view(day, seg)
            self._views[seg] = view
        return view

    def _pick(self, section: str, day: date) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ident, vs in self.versions.get(section, {}).items():
            live = [v for v in vs if v.in_force(day)]
            if live:
                # a temporary amendment wins over the general version in its window
                live.sort(key=lambda v: (v.temporary, v.effective_from))
                out[ident] = live[-1]
        return out

    def _build_view(self, day: date, seg: int) -> PolicyView:
        start = self.breaks[seg - 1] if seg > 0 else date.min
        lists = self._pick("list_rule", day)
        list_names = {r.list_id for r in lists.values()}
        memoranda = self._pick("memorandum", day)
        measures = self._pick("measure", day)
        bindings: dict[str, list[Binding]] = defaultdict(list)
        extensions: dict[str, list[tuple[str, Binding]]] = defaultdict(list)
        max_path = 0
        for m in memoranda.values():
            for c in m.clause:
                if c.measure in measures and c.list in list_names:
                    measure = measures[c.measure]
                    basis = self.basis_on(tuple(dict.fromkeys(
                        [*measure.legal_basis, *c.legal_basis, *m.legal_basis])), day)
                    b = Binding(m, c, measure, measure.kind.value, measure.effect.value, basis)
                    bindings[c.list].append(b)
                    for p in c.extend_to:
                        extensions[p].append((c.list, b))
                        max_path = max(max_path, p.count("/") + 1)
        schemes = self._pick("scheme", day)
        for s in schemes.values():
            for o in (*s.override, *s.conditional):
                max_path = max(max_path, _cond_depth(o.when))
        return PolicyView(
            day=day,
            version=f"{self.digest}@{start.isoformat() if seg else 'origin'}",
            agencies=self._pick("agency", day),
            categories=self._pick("category", day),
            measures=measures,
            list_rules=_ordered(lists),
            memoranda=memoranda,
            schemes=schemes,
            bindings_by_list={k: tuple(v) for k, v in bindings.items()},
            rules_by_category=_by_category(lists),
            feeds=self._pick("feed", day),
            extensions={k: tuple(v) for k, v in extensions.items()},
            max_path=max_path,
        )


def _by_category(lists: Mapping[str, ListRule]) -> dict[str, tuple[ListRule, ...]]:
    out: dict[str, list[ListRule]] = defaultdict(list)
    for r in lists.values():
        for c in r.trigger.categories:
            out[c].append(r)
    return {k: tuple(v) for k, v in out.items()}


def _cond_depth(c: Any) -> int:
    d = 0
    if c.linked is not None:
        d = max(d, c.linked.path.count("/") + 1)
    for sub in (*c.any, *c.all):
        d = max(d, _cond_depth(sub))
    return d


def _ordered(lists: Mapping[str, ListRule]) -> dict[str, ListRule]:
    """Rules in dependency order: rules feeding list L come before rules triggered by L."""
    out: dict[str, ListRule] = {}
    feeding: dict[str, list[str]] = defaultdict(list)
    for i, r in lists.items():
        feeding[r.list_id].append(i)

    def add(i: str) -> None:
        if i in out or i not in lists:
            return
        dep = lists[i].trigger.list
        if dep:
            for j in feeding.get(dep, ()):
                add(j)
        out[i] = lists[i]

    for i in sorted(lists):
        add(i)
    return out


__all__ = ["Binding", "Origin", "Policy", "PolicyView", "Versioned"]
