"""Sources a reader can follow (issue 10, item 7).

Every citation in the presets names a public document of the bibliography (a ``[[document]]``
or a ``[[law]]``) that gives its title, its date and its number or address, or is a secondary
source that names who published it; no policy file or page of the docs points to a file that is
not in the repository; the loader refuses a citation of an unknown document, saying where.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from xinyong.files import load_policy
from xinyong.policy.catalogue import presets_markdown
from xinyong.policy.loader import PolicyError
from xinyong.policy.schema import Document, DocumentKind, Law, Source, Versioned, cited_document

ROOT = Path(__file__).resolve().parents[1]
FILE_REF = re.compile(
    r"(?<![\w/.:~-])([\w./-]*[\w-]\.(?:md|txt|toml|pdf|py|json|csv|ya?ml|docx?))\b")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _repo_files() -> set[Path]:
    skip = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    return {p.relative_to(ROOT) for p in ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(ROOT).parts)}


def _exists(ref: str, where: Path, files: set[Path]) -> bool:
    """A reference resolves from the root, the policies, the docs or the citing file's folder;
    a bare or partial name matches the end of a path in the repository."""
    ref = ref.lstrip("./")
    for base in (Path(), Path("policies"), Path("docs"), where.parent.relative_to(ROOT)):
        if base / ref in files:
            return True
    return any(str(f).endswith("/" + ref) or str(f) == ref for f in files)


def _file_refs() -> Iterator[tuple[Path, str]]:
    for toml in sorted((ROOT / "policies").rglob("*.toml")):
        text = toml.read_text(encoding="utf-8")
        strings = list(_strings(tomllib.loads(text)))
        strings += [line for line in text.splitlines() if line.lstrip().startswith("#")]
        for s in strings:
            for m in FILE_REF.finditer(re.sub(r"https?://\S+", "", s)):
                yield toml, m.group(1)
    for md in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        # commands in fenced blocks name files the reader creates (proof.json): not citations
        text = re.sub(r"^```.*?^```", "", md.read_text(encoding="utf-8"), flags=re.M | re.S)
        for m in FILE_REF.finditer(re.sub(r"https?://\S+", "", text)):
            if not re.fullmatch(r"/[^/]+", m.group(1)):  # an API route such as /openapi.json
                yield md, m.group(1)


def test_no_policy_or_doc_cites_a_file_outside_the_repository() -> None:
    files = _repo_files()
    # the scan finds a reference to a missing file and accepts one to a present file
    here = ROOT / "policies" / "national" / "preset.toml"
    assert [m.group(1) for m in FILE_REF.finditer("see FACTS.md, Enterprises")] == ["FACTS.md"]
    assert not _exists("FACTS.md", here, files)
    assert _exists("samr-lists/lists.toml", here, files) and _exists("docs/presets.md", here, files)
    missing = sorted({f"{where.relative_to(ROOT)}: {ref}" for where, ref in _file_refs()
                      if not _exists(ref, where, files)})
    assert missing == []


def _citations() -> Iterator[tuple[str, str]]:
    policy = load_policy(ROOT / "policies")
    for pid, preset in policy.presets.items():
        for s in preset.sources:
            yield f"preset {pid}", s if isinstance(s, str) else f"<inline source {s.id}>"
    for section, by_id in policy.versions.items():
        for ident, versions in by_id.items():
            for v in versions:
                assert isinstance(v, Versioned)
                for s in v.sources:
                    yield f"{section}[{ident}]", s


def _followable(doc: Document | Law) -> bool:
    if isinstance(doc, Law):
        return bool(doc.title and doc.issued and (doc.number or doc.url
                                                   or "number" in doc.illustrative))
    if doc.kind is DocumentKind.SECONDARY:
        return bool(doc.title and doc.date and (doc.author or doc.issuer))
    return bool(doc.title and doc.date and (doc.number or doc.url))


def test_every_citation_names_a_followable_document() -> None:
    policy = load_policy(ROOT / "policies")
    seen = 0
    for where, citation in _citations():
        seen += 1
        doc = policy.cited(citation)
        assert doc is not None, f"{where}: {citation!r} names no document of the bibliography"
        assert _followable(doc), f"{where}: {doc.id} lacks a title, a date or a number/url"
        assert cited_document(citation)[2].strip(), f"{where}: {citation!r} says nothing"
    assert seen > 100  # the presets cite about 150 times


def test_secondary_sources_name_what_they_report() -> None:
    policy = load_policy(ROOT / "policies")
    for doc in policy.documents.values():
        for r in doc.reports:
            assert r in policy.laws or r in policy.documents, f"{doc.id}.reports: {r!r} unknown"
    # the two policy studies the presets rely on are named with their publisher and year
    kki = policy.documents["kalman-kki-2023"]
    assert (kki.author, kki.date) == ("Judit Mercédesz Kálmán", "2023")
    assert kki.url == "https://doi.org/10.47683/KKIElemzesek.KE-2023.06"
    assert policy.documents["osw-2019"].kind is DocumentKind.SECONDARY


def test_presets_page_prints_the_full_reference() -> None:
    policy = load_policy(ROOT / "policies")
    page = presets_markdown(policy)
    assert "FACTS.md" not in page
    # court-debtors cites Fa Shi (2013) No. 17: title, number and date are printed
    court = page.split("(`court-debtors`)", 1)[1].split("\n## ", 1)[0]
    assert ("Several Provisions of the Supreme People's Court on Publishing the List of "
            "Dishonest Judgment Debtors (最高人民法院关于公布失信被执行人名单信息的若干规定), "
            "Fa Shi (2013) No. 17, 2013-07-16") in court
    # the national preset: the 2021 catalog with the number of the notice issuing it
    national = page.split("(`national`)", 1)[1].split("\n## ", 1)[0]
    assert "发改财金规〔2021〕1827号" in national
    # a secondary source is printed with its author and address
    covid = page.split("(`covid-2020`)", 1)[1].split("\n## ", 1)[0]
    assert "Judit Mercédesz Kálmán, Watch how you behave" in covid
    assert "https://doi.org/10.47683/KKIElemzesek.KE-2023.06" in covid
    for pid, preset in policy.presets.items():
        section = page.split(f"(`{pid}`)", 1)[1].split("\n## ", 1)[0]
        for s in preset.sources:
            assert not isinstance(s, Source), f"{pid}: inline source {s.id}; cite a document"
            doc = policy.cited(s)
            assert doc is not None and doc.title in section, f"{pid}: {s!r} not printed"


PRESET = """
[preset]
id = "pp"
title = "test"
sources = ["some-law: the whole preset"]

[[law]]
id = "some-law"
title = "A law"
number = "No. 1"
issued = 2020-01-01
rank = "law"
"""

AGENCY = """
[[agency]]
id = "agency-a"
name = "Agency A"
effective_from = 2020-01-01
legal_basis = ["some-law"]
sources = [{cites}]
"""

Make = Callable[[dict[str, str]], Path]


def _problems(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as e:
        load_policy(root)
    return [str(p) for p in e.value.problems]


def test_a_known_document_or_law_may_be_cited(write_policy: Make) -> None:
    doc = '\n[[document]]\nid = "a-study"\ntitle = "A study"\nkind = "secondary"\n' \
          'author = "A. Author"\ndate = "2019"\n'
    cites = '"some-law#Art. 3: the agency", "a-study#section 2: what it reports"'
    root = write_policy({"preset.toml": PRESET + doc, "a.toml": AGENCY.format(cites=cites)})
    policy = load_policy(root)
    assert policy.cited("a-study#section 2: x") == policy.documents["a-study"]
    assert cited_document("some-law#Art. 3: the agency") == ("some-law", "Art. 3", "the agency")


def test_an_unknown_document_is_refused_with_file_key_and_fix(write_policy: Make) -> None:
    root = write_policy({"preset.toml": PRESET,
                         "a.toml": AGENCY.format(cites='"no-such-doc: a number"')})
    (msg,) = _problems(root)
    assert msg.startswith("policies/p/a.toml:3: agency[agency-a].sources[0]: ")
    assert "unknown document 'no-such-doc'" in msg
    assert "[[document]]" in msg  # how to fix it


def test_a_preset_citing_an_unknown_document_is_refused(write_policy: Make) -> None:
    text = PRESET.replace('"some-law: the whole preset"', '"gone: the whole preset"')
    (msg,) = _problems(write_policy({"preset.toml": text}))
    assert msg.startswith("policies/p/preset.toml: preset.sources[0]: ")
    assert "unknown document 'gone'" in msg


def test_a_file_name_is_not_a_citation(write_policy: Make) -> None:
    cites = '"FACTS.md, Enterprises: tax credit rating"'
    preset = PRESET.replace('"some-law: the whole preset"', '"see the research notes"')
    msgs = sorted(_problems(write_policy({"preset.toml": preset,
                                          "a.toml": AGENCY.format(cites=cites)})))
    assert len(msgs) == 2
    assert msgs[0].startswith("policies/p/a.toml:3: agency[agency-a].sources[0]: ")
    assert msgs[1].startswith("policies/p/preset.toml: preset.sources[0]: ")
    for msg in msgs:
        assert "is not a citation" in msg and "<document-id>: what it supports" in msg


def test_a_bibliography_entry_must_be_followable(write_policy: Make) -> None:
    # a primary document without number or url, a secondary one without author or publisher
    bad = '\n[[document]]\nid = "d1"\ntitle = "Some notice"\nkind = "primary"\n' \
          'date = 2020-01-01\n' \
          '\n[[document]]\nid = "d2"\ntitle = "Some study"\nkind = "secondary"\ndate = "2020"\n'
    msgs = _problems(write_policy({"preset.toml": PRESET + bad}))
    assert any("document[d1]" in m and "number or its url" in m for m in msgs)
    assert any("document[d2]" in m and "author or publisher" in m for m in msgs)
