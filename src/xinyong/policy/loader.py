"""Building a :class:`Policy` from TOML texts, reporting every problem at once.

Pure: the caller reads the files (see :mod:`xinyong.files`) and hands over
``{path: text}``; nothing here touches the file system.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from xinyong.ids import InvalidIdentifier, validate
from xinyong.policy.data_class import (
    CATALOG,
    LABELS,
    SENSITIVE,
    STUDY,
    DataClass,
    SensitiveClass,
    SensitiveTerms,
)
from xinyong.policy.model import Origin, Policy
from xinyong.policy.profiles import apply_profile_rules
from xinyong.policy.schema import (
    SECTIONS,
    Condition,
    ListRule,
    Memorandum,
    PolicyFile,
    Preset,
    Scheme,
    Source,
    Versioned,
    cited_document,
)

TERM_FILE = "policies/national/sensitive_terms.toml"
_PIPL = "PIPL Art. 28; Credit Reporting Regulation Art. 14"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class PolicyError(Exception):
    """The policy could not be loaded; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the policy:\n{lines}")


def _line_of(text: str, ident: str | None, nth: int = 0) -> int | None:
    """Line of the ``nth`` ``id = "ident"`` in the text (later versions share an id)."""
    if not ident:
        return None
    found = list(re.finditer(rf'^\s*id\s*=\s*"{re.escape(ident)}"', text, re.M))
    if not found:
        return None
    m = found[min(nth, len(found) - 1)]
    return text.count("\n", 0, m.start()) + 1


def _key_path(raw: Any, loc: Sequence[int | str]) -> tuple[str, str | None, int]:
    """Render a pydantic location with ids instead of indexes where there are ids."""
    out, node, last_id, nth = "", raw, None, 0
    for part in loc:
        if isinstance(part, int):
            ident = None
            if isinstance(node, list) and part < len(node):
                if last_id is None and isinstance(node[part], dict):
                    same = node[part].get("id")
                    nth = sum(isinstance(x, dict) and x.get("id") == same for x in node[:part])
                node = node[part]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    ident = node["id"]
                    last_id = ident
            out += f"[{ident}]" if ident else f"[{part}]"
        else:
            if part in {"function-after", "function-before", "function-plain"}:
                continue
            if part in {"citation", "inline"} and not (isinstance(node, dict) and part in node):
                continue  # the tag of a preset source's form (schema.PresetSource)
            node = node.get(part) if isinstance(node, dict) else None
            out += f".{part}" if out else str(part)
    return out, last_id, nth


def declared_ids(raw: Any) -> dict[str, set[str]]:
    """Ids a file declares, even where its objects failed validation."""
    out: dict[str, set[str]] = defaultdict(set)
    if not isinstance(raw, dict):
        return out
    for section in SECTIONS:
        for item in raw.get(section, ()) if isinstance(raw.get(section), list) else ():
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                out[section].add(item["id"])
                if section == "list_rule" and isinstance(item.get("list"), str):
                    out[section].add(item["list"])
    return out


def parse_file(name: str, text: str) -> tuple[PolicyFile | None, list[Problem]]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", str(e))
        if m:
            msg = f"TOML syntax: {m.group(1)} (column {m.group(3)})"
            return None, [Problem(name, "", msg, int(m.group(2)))]
        return None, [Problem(name, "", f"TOML syntax: {e}")]
    try:
        return PolicyFile.model_validate(raw), []
    except ValidationError as e:
        problems = []
        errors = e.errors()
        deeper = [tuple(x["loc"]) for x in errors]
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "too_short" and any(
                d[: len(loc)] == loc and len(d) > len(loc) for d in deeper
            ):
                continue  # the list is short only because an item failed: report the item
            key, ident, nth = _key_path(raw, err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; `xinyong schema` lists the keys)"
            elif err["type"] == "missing" and loc[-1] == "data_class":
                msg = ("Field required: declare what the data is, right after `domain`: one of "
                       f"{', '.join(sorted(CATALOG | STUDY))} (docs/policy-language.md)")
            problems.append(Problem(name, key, msg, _line_of(text, ident, nth)))
        return None, problems


def build(files: Mapping[str, str], presets: Iterable[str] | None = None) -> Policy:
    """Validate and link every file; raise :class:`PolicyError` listing all problems.

    ``files`` maps a path such as ``policies/tax/rating.toml`` to its text; the
    preset of a file is the folder holding its ``preset.toml``.
    """
    problems: list[Problem] = []
    parsed: dict[str, PolicyFile] = {}
    broken: dict[str, set[str]] = defaultdict(set)
    for name in sorted(files):
        pf, errs = parse_file(name, files[name])
        problems.extend(errs)
        if pf is not None:
            parsed[name] = pf
        elif errs:
            # objects that failed are still declared: no knock-on "unknown" reports for them
            try:
                for section, found in declared_ids(tomllib.loads(files[name])).items():
                    broken[section] |= found
            except tomllib.TOMLDecodeError:
                pass

    folder_preset: dict[str, Preset] = {}
    for name, pf in parsed.items():
        if pf.preset is not None:
            folder_preset[_folder(name)] = pf.preset
    no_preset = {_folder(n) for n in files if n.endswith("/preset.toml") and n not in parsed}
    for name in files:
        folder = _folder(name)
        if name in parsed and _only_terms(parsed[name]):
            continue  # the term list screens every preset and belongs to none
        if folder not in folder_preset and folder not in no_preset and name in parsed:
            problems.append(
                Problem(name, "", "no preset.toml with a [preset] table in this folder")
            )

    wanted = set(presets) if presets is not None else None
    by_id = {p.id: p for p in folder_preset.values()}
    if wanted is not None:
        missing = wanted - by_id.keys()
        for m in sorted(missing):
            problems.append(Problem("policies", "preset", f"unknown preset {m!r}"))
        wanted = _with_requirements(wanted & by_id.keys(), by_id)

    objects: dict[str, list[tuple[Any, Origin]]] = defaultdict(list)
    texts: dict[str, str] = {}
    for name, pf in parsed.items():
        preset = folder_preset.get(_folder(name))
        if _only_terms(pf):
            texts[name] = files[name]  # part of the version: it decides what loads
        if preset is None or (wanted is not None and preset.id not in wanted):
            continue
        texts[name] = files[name]
        seen: dict[str, int] = defaultdict(int)
        for section in SECTIONS:
            for obj in getattr(pf, section):
                ident = getattr(obj, "id", None)
                line = _line_of(files[name], ident, seen[f"{section}:{ident}"])
                seen[f"{section}:{ident}"] += 1
                objects[section].append((obj, Origin(name, preset.id, line)))

    for preset in folder_preset.values():
        for req in preset.requires:
            if req not in by_id:
                problems.append(Problem(_preset_file(folder_preset, preset), "preset.requires",
                                        f"requires unknown preset {req!r}"))

    # the term list screens every preset, whichever are selected
    terms, term_problems = _sensitive_terms(parsed, files)
    problems.extend(term_problems)
    problems.extend(_check(objects, broken, terms))
    problems.extend(_preset_citations(folder_preset, wanted, objects, broken))
    if problems:
        raise PolicyError(problems)
    digest = hashlib.sha256("".join(k + texts[k] for k in sorted(texts)).encode()).hexdigest()
    used_presets = {p.id: p for p in folder_preset.values() if wanted is None or p.id in wanted}
    # dated profile rules become versions of the schemes that claim the profile
    objects["scheme"] = apply_profile_rules(
        objects.get("scheme", []), [r for r, _ in objects.get("profile_rule", [])], by_id,
        {c.id for c, _ in objects.get("category", []) if c.national_catalog})
    return dataclasses.replace(Policy.assemble(used_presets, objects, digest[:12]),
                               sensitive=terms)


def _only_terms(pf: PolicyFile) -> bool:
    return bool(pf.sensitive_class) and all(
        not getattr(pf, s) for s in SECTIONS if s != "sensitive_class") and pf.preset is None


def _sensitive_terms(parsed: Mapping[str, PolicyFile],
                     files: Mapping[str, str]) -> tuple[SensitiveTerms, list[Problem]]:
    """The bilingual term list (``[[sensitive_class]]``): one table for each sensitive class."""
    problems: list[Problem] = []
    found: dict[DataClass, tuple[SensitiveClass, str]] = {}
    for name, pf in parsed.items():
        for c in pf.sensitive_class:
            if c.id in found:
                problems.append(Problem(name, f"sensitive_class[{c.id}]",
                                        f"declared twice (also in {found[c.id][1]}); keep one "
                                        "list per class", _line_of(files[name], c.id)))
            else:
                found[c.id] = (c, name)
    missing = sorted(SENSITIVE - found.keys())
    if missing:
        where = found[next(iter(found))][1] if found else TERM_FILE
        problems.append(Problem(where, "sensitive_class",
                                f"no term list for {', '.join(missing)}: every sensitive class "
                                f"needs its [[sensitive_class]] table (see {TERM_FILE})"))
    order = [found[d][0] for d in DataClass if d in found]
    return SensitiveTerms(order), problems


def _folder(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def _preset_file(folder_preset: Mapping[str, Preset], preset: Preset) -> str:
    for folder, p in folder_preset.items():
        if p is preset:
            return f"{folder}/preset.toml"
    return "preset.toml"


def _preset_citations(folder_preset: Mapping[str, Preset], wanted: set[str] | None,
                      objects: Mapping[str, list[tuple[Any, Origin]]],
                      broken: Mapping[str, set[str]]) -> list[Problem]:
    """A preset's ``sources`` must name documents or laws that are loaded with it."""
    known = {o.id for s in ("law", "document") for o, _ in objects.get(s, [])}
    known |= broken.get("law", set()) | broken.get("document", set())
    out = []
    for folder, p in folder_preset.items():
        if wanted is not None and p.id not in wanted:
            continue
        for i, c in enumerate(p.sources):
            doc = cited_document(c)[0] if isinstance(c, str) else None
            if doc is not None and doc not in known:
                out.append(Problem(f"{folder}/preset.toml", f"preset.sources[{i}]",
                                   f"unknown document {doc!r}: declare it in a [[document]] "
                                   "table (policies/national/documents.toml) or a [[law]], "
                                   "or cite a known id"))
    return out


def _with_requirements(ids: set[str], by_id: Mapping[str, Preset]) -> set[str]:
    out, todo = set(), list(ids)
    while todo:
        i = todo.pop()
        if i in out or i not in by_id:
            continue
        out.add(i)
        todo.extend(by_id[i].requires)
    return out


def _check(objects: Mapping[str, list[tuple[Any, Origin]]],
           broken: Mapping[str, set[str]] | None = None,
           terms: SensitiveTerms | None = None) -> list[Problem]:
    """Cross-references, forbidden data, version overlaps and trigger cycles."""
    problems: list[Problem] = []
    broken = broken or {}
    screen = terms or SensitiveTerms()

    def ids(section: str) -> set[str]:
        return {o.id for o, _ in objects.get(section, [])} | broken.get(section, set())

    laws, agencies, categories = ids("law"), ids("agency"), ids("category")
    citable = laws | ids("document")
    actions, measures, schemes = ids("action"), ids("measure"), ids("scheme")
    lists = {r.list_id for r, _ in objects.get("list_rule", [])} | broken.get("list_rule", set())
    calendars = ids("calendar")
    cat_amounts: dict[str, set[str]] = defaultdict(set)
    for c, _ in objects.get("category", []):
        cat_amounts[c.id].update(c.amounts)
    grades: dict[str, set[str]] = defaultdict(set)
    for s, _ in objects.get("scheme", []):
        grades[s.id].update(s.grades)

    def add(origin: Origin, key: str, msg: str) -> None:
        problems.append(Problem(origin.file, key, msg, origin.line))

    def sensitive(origin: Origin, key: str, texts: Iterable[str]) -> None:
        for text in texts:
            hit = screen.find(text)
            if hit:
                add(origin, key, f"{text!r} refers to {hit.describe()} (term {hit.term!r}): "
                    f"sensitive personal information may never be recorded ({_PIPL}); remove "
                    "it, or if this wording is lawful add the phrase to `allow` of "
                    f"sensitive_class[{hit.data_class}] in {TERM_FILE}")
                return

    def ref(origin: Origin, key: str, value: str, known: set[str], what: str) -> None:
        if value not in known:
            add(origin, key, f"unknown {what} {value!r}")

    def basis(origin: Origin, key: str, refs: Iterable[str]) -> None:
        for i, r in enumerate(refs):
            law = r.split("#", 1)[0]
            if law not in laws:
                add(origin, f"{key}.legal_basis[{i}]",
                    f"unknown law {law!r} (declare it in a [[law]] table)")

    def cites(origin: Origin, key: str, sources: Iterable[str | Source]) -> None:
        for i, c in enumerate(sources):
            doc = cited_document(c)[0] if isinstance(c, str) else None
            if doc is not None and doc not in citable:
                add(origin, f"{key}.sources[{i}]",
                    f"unknown document {doc!r}: declare it in a [[document]] table "
                    "(policies/national/documents.toml) or a [[law]], or cite a known id")

    def cond(origin: Origin, key: str, c: Condition) -> None:
        for i, cat in enumerate(c.categories):
            ref(origin, f"{key}.categories[{i}]", cat, categories, "category")
        for i, a in enumerate(c.amounts):
            _amount_fields(origin, f"{key}.amounts[{i}]", a, c.categories)
        if c.grade is not None:
            ref(origin, f"{key}.grade.scheme", c.grade.scheme, schemes, "scheme")
            for g in c.grade.grades:
                if c.grade.scheme in grades and g not in grades[c.grade.scheme]:
                    add(origin, f"{key}.grade.grades", f"{g!r} is not a grade of {c.grade.scheme}")
        if c.linked is not None:
            cond(origin, f"{key}.linked.when", c.linked.when)
        for i, sub in enumerate(c.any):
            cond(origin, f"{key}.any[{i}]", sub)
        for i, sub in enumerate(c.all):
            cond(origin, f"{key}.all[{i}]", sub)

    def _amount_fields(origin: Origin, key: str, a: Any, cats: Iterable[str]) -> None:
        cats = [c for c in cats if c in categories]
        for f in (a.field, a.of):
            if f is not None and cats and not all(f in cat_amounts[c] for c in cats):
                add(origin, key, f"amount {f!r} is not declared in 'amounts' of {', '.join(cats)}")

    for section, items in objects.items():
        for obj, origin in items:
            key = f"{section}[{getattr(obj, 'id', '?')}]"
            if isinstance(obj, Versioned):
                basis(origin, key, obj.legal_basis)
                cites(origin, key, obj.sources)
            if section == "category":
                for a in obj.agencies:
                    ref(origin, f"{key}.agencies", a, agencies, "agency")
                _check_data_class(obj, origin, key, add)
                for field in ("id", "title", "title_zh", "note"):
                    sensitive(origin, f"{key}.{field}", [getattr(obj, field)])
                for i, f in enumerate(obj.amounts):
                    sensitive(origin, f"{key}.amounts[{i}]", [f])
                if obj.publicity.min and obj.publicity.max and (
                    obj.publicity.min.approx_days() > obj.publicity.max.approx_days()
                ):
                    add(origin, f"{key}.publicity", "min is longer than max")
            elif section == "measure":
                for i, a in enumerate(obj.actions):
                    ref(origin, f"{key}.actions[{i}]", a, actions, "action")
            elif section == "scheme":
                _check_scheme(obj, origin, key, add, ref, cond, basis, agencies)
                for ind in obj.indicator:
                    for field in ("id", "title", "field"):
                        sensitive(origin, f"{key}.indicator[{ind.id}].{field}",
                                  [getattr(ind, field) or ""])
            elif section == "list_rule":
                _check_list(obj, origin, key, add, ref, basis, agencies, categories, schemes,
                            lists, grades, calendars, _amount_fields)
            elif section == "feed":
                ref(origin, f"{key}.agency", obj.agency, agencies, "agency")
                cats = {c.id: c for c, _ in objects.get("category", [])}
                for i, cid in enumerate(obj.categories):
                    ref(origin, f"{key}.categories[{i}]", cid, categories, "category")
                    if cid in cats and obj.agency not in cats[cid].agencies:
                        add(origin, f"{key}.categories[{i}]",
                            f"{obj.agency!r} is not competent for {cid!r} (see its agencies)")
                sensitive(origin, f"{key}.columns", [*obj.columns, *obj.columns.values()])
                sensitive(origin, f"{key}.ignore", obj.ignore)
            elif section == "memorandum":
                _check_memo(obj, origin, key, ref, basis, agencies, lists, measures, add)

    for exc, origin in objects.get("identifier_exception", []):
        try:
            validate(exc.scheme, exc.value)
        except InvalidIdentifier as e:
            if e.expected_check is None:
                problems.append(Problem(origin.file, f"identifier_exception[{exc.value}]",
                                        f"not a checksum failure: {e.reason}"))
        else:
            problems.append(Problem(origin.file, f"identifier_exception[{exc.value}]",
                                    "this code passes its checksum; no exception is needed"))
    problems.extend(_overlaps(objects))
    problems.extend(_cycles(objects))
    return problems


def _check_data_class(c: Any, origin: Origin, key: str, add: Any) -> None:
    """A sensitive class may never be declared; a catalog category has a catalog class."""
    d = c.data_class
    if d in SENSITIVE:
        add(origin, f"{key}.data_class",
            f"{d.value!r} is {LABELS[d]}, sensitive personal information that may never be "
            f"recorded ({_PIPL}); a category of it cannot exist: remove the category")
    elif c.national_catalog and d not in CATALOG:
        add(origin, f"{key}.data_class",
            f"{d.value!r} is outside the National Basic Catalog, but national_catalog = true; "
            f"choose a catalog heading ({', '.join(sorted(CATALOG))}) or set "
            "national_catalog = false")


def _check_scheme(s: Scheme, origin: Origin, key: str, add: Any, ref: Any, cond: Any,
                  basis: Any, agencies: set[str]) -> None:
    ref(origin, f"{key}.owner", s.owner, agencies, "agency")
    if s.withdrawn:
        add(origin, f"{key}.withdrawn", "is set by the loader from [[profile_rule]] tables; "
            "remove it (claim a profile with `profile` instead)")
    for ind in s.indicator:
        cond(origin, f"{key}.indicator[{ind.id}]", Condition(categories=ind.categories,
                                                            amounts=ind.amounts))
        if ind.relief is not None:
            cond(origin, f"{key}.indicator[{ind.id}].relief",
                 Condition(categories=ind.relief.categories))
    for o in s.override:
        cond(origin, f"{key}.override[{o.id}].when", o.when)
        basis(origin, f"{key}.override[{o.id}]", o.legal_basis)
    for c in s.conditional:
        cond(origin, f"{key}.conditional[{c.id}].when", c.when)
        basis(origin, f"{key}.conditional[{c.id}]", c.legal_basis)


def _check_list(r: ListRule, origin: Origin, key: str, add: Any, ref: Any, basis: Any,
                agencies: set[str], categories: set[str], schemes: set[str], lists: set[str],
                grades: Mapping[str, set[str]], calendars: set[str], amount_fields: Any) -> None:
    ref(origin, f"{key}.authority", r.authority, agencies, "agency")
    ref(origin, f"{key}.calendar", r.calendar, calendars, "calendar")
    t = r.trigger
    for i, c in enumerate(t.categories):
        ref(origin, f"{key}.trigger.categories[{i}]", c, categories, "category")
    for i, a in enumerate(t.amounts):
        amount_fields(origin, f"{key}.trigger.amounts[{i}]", a, t.categories)
    for i, c in enumerate(r.grace_for.categories if r.grace_for else ()):
        ref(origin, f"{key}.grace_for.categories[{i}]", c, categories, "category")
    if t.scheme is not None:
        ref(origin, f"{key}.trigger.scheme", t.scheme, schemes, "scheme")
        for g in t.grades:
            if t.scheme in grades and g not in grades[t.scheme]:
                add(origin, f"{key}.trigger.grades", f"grade {g!r} is not a grade of {t.scheme}")
    if t.list is not None:
        ref(origin, f"{key}.trigger.list", t.list, lists, "list")
        if t.list == r.list_id:
            add(origin, f"{key}.trigger.list", "a list cannot be triggered by itself")


def _check_memo(m: Memorandum, origin: Origin, key: str, ref: Any, basis: Any,
                agencies: set[str], lists: set[str], measures: set[str], add: Any) -> None:
    for i, a in enumerate(m.signatories):
        ref(origin, f"{key}.signatories[{i}]", a, agencies, "agency")
    for c in m.clause:
        ck = f"{key}.clause[{c.id}]"
        ref(origin, f"{ck}.list", c.list, lists, "list")
        ref(origin, f"{ck}.measure", c.measure, measures, "measure")
        ref(origin, f"{ck}.applied_by", c.applied_by, agencies, "agency")
        if c.applied_by not in m.signatories:
            add(origin, f"{ck}.applied_by",
                f"{c.applied_by!r} did not sign this memorandum, so it cannot be bound by it")
        basis(origin, ck, c.legal_basis)


def _overlaps(objects: Mapping[str, list[tuple[Any, Origin]]]) -> list[Problem]:
    out = []
    for section, items in objects.items():
        versions: dict[str, list[tuple[Any, Origin]]] = defaultdict(list)
        for obj, origin in items:
            if isinstance(obj, Versioned) or section in ("law", "document", "action", "calendar"):
                versions[obj.id].append((obj, origin))
        for ident, vs in versions.items():
            if len(vs) < 2:
                continue
            if not isinstance(vs[0][0], Versioned):
                out.append(Problem(vs[1][1].file, f"{section}[{ident}]",
                                   f"declared twice (also in {vs[0][1].file})", vs[1][1].line))
                continue
            for i, (a, oa) in enumerate(vs):
                for b, ob in vs[i + 1:]:
                    if a.temporary != b.temporary:
                        continue
                    a_end, b_end = a.effective_to, b.effective_to
                    if (a_end is None or b.effective_from < a_end) and (
                        b_end is None or a.effective_from < b_end
                    ):
                        out.append(Problem(ob.file, f"{section}[{ident}]",
                                           f"version from {b.effective_from} overlaps the version "
                                           f"from {a.effective_from} in {oa.file}; end one with "
                                           "effective_to or mark the amendment temporary = true",
                                           ob.line))
    return out


def _cycles(objects: Mapping[str, list[tuple[Any, Origin]]]) -> list[Problem]:
    deps: dict[str, set[str]] = defaultdict(set)
    origin: dict[str, Origin] = {}
    for r, o in objects.get("list_rule", []):
        origin[r.list_id] = o
        if r.trigger.list:
            deps[r.list_id].add(r.trigger.list)
    out: list[Problem] = []
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cyc = " -> ".join([*stack[stack.index(n):], n])
            o = origin[n]
            out.append(Problem(o.file, f"list_rule[{n}].trigger", f"trigger cycle: {cyc}", o.line))
            return
        state[n] = 1
        for d in deps.get(n, ()):
            visit(d, [*stack, n])
        state[n] = 2

    for n in list(deps):
        visit(n, [])
    return out
