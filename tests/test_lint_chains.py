"""Lint gaps (issue 10, item 5): a measure reaches only the targets its legal basis names, and a
punishment fed by a score through a chain of lists is still a score penalty.

Expected findings are worked out from the declarations: the procurement ban (Government
Procurement Law Art. 21, 22, 77) reaches the supplier itself, so `roles = []`; the SPC's
high-consumption restrictions (Art. 3) reach a unit's legal representative, responsible
persons and actual controller.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from xinyong.files import load_policy
from xinyong.policy.lint import lint
from xinyong.policy.schema import Profile

ROOT = Path(__file__).resolve().parents[1]

PRESET = """
[preset]
id = "pp"
title = "test"
requires = ["national"]
[[preset.sources]]
id = "src"
title = "a source"

[[category]]
id = "pp.judgment.not_performed"
title = "Court judgment not performed"
domain = "judicial"
data_class = "judicial"
severity = "serious"
subject_kinds = ["person", "enterprise"]
agencies = ["spc"]
national_catalog = true
effective_from = 2020-01-01
legal_basis = ["civil-procedure-law"]

[[list_rule]]
id = "pp.debtors"
title = "Debtors"
colour = "black"
authority = "spc"
subject_kinds = ["person", "enterprise"]
trigger = { categories = ["pp.judgment.not_performed"] }
duration = "P2Y"
effective_from = 2020-01-01
legal_basis = ["civil-procedure-law"]
"""

MEMO = """
[[memorandum]]
id = "pp.memo"
number = "PP (2020) No. 1"
title = "Joint punishment of debtors"
signed = 2020-01-01
signatories = ["mof", "caac"]
effective_from = 2020-01-01
legal_basis = ["guofa-2016-33"]

[[memorandum.clause]]
id = "procurement"
list = "pp.debtors"
measure = "procurement.bidding"
applied_by = "mof"
extend_to = ["legal_representative"]
legal_basis = ["government-procurement-law#Art. 22"]

[[memorandum.clause]]
id = "air-ticket"
list = "pp.debtors"
measure = "transport.air.ticket"
applied_by = "caac"
extend_to = ["legal_representative"]
legal_basis = ["spc-high-consumption#Art. 3"]
"""


def _with_national(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "national", root / "national")
    (root / "pp").mkdir()
    for name, text in files.items():
        (root / "pp" / name).write_text(text, encoding="utf-8")
    return root


def _targets(root: Path) -> list:  # type: ignore[type-arg]
    return [f for f in lint(load_policy(root), Profile.CN_2021) if f.rule == "target-within-basis"]


def test_extending_the_procurement_ban_to_legal_representatives_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = _with_national(tmp_path, {"preset.toml": PRESET, "memo.toml": MEMO})
    found = _targets(root)
    # the air-ticket ban to the legal representative is lawful (SPC Art. 3): one finding only
    assert len(found) == 1, "\n".join(map(str, found))
    f = found[0]
    assert f.severity == "error" and f.preset == "pp"
    assert f.file == "policies/pp/memo.toml" and f.line == 3  # the memorandum's id line
    assert f.obj == "memorandum[pp.memo]"
    assert "clause 'procurement'" in f.reason
    assert "'procurement.bidding'" in f.reason and "'legal_representative'" in f.reason
    assert "declared roles: none" in f.reason
    assert "Fix: remove 'legal_representative' from the clause's extend_to" in f.reason
    assert "widen a measure's targets" in f.source
    # without the procurement extension, the memorandum is lawful: no finding
    lawful = MEMO.replace('extend_to = ["legal_representative"]\nlegal_basis = '
                          '["government-procurement-law#Art. 22"]',
                          'legal_basis = ["government-procurement-law#Art. 22"]')
    assert lawful != MEMO
    (root / "pp" / "memo.toml").write_text(lawful, encoding="utf-8")
    assert _targets(root) == []


def test_a_path_the_basis_does_not_name_is_an_error_even_for_a_role_it_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # SPC Art. 3 names the legal representative, not the other firms that person represents
    wider = MEMO.replace('extend_to = ["legal_representative"]\nlegal_basis = '
                         '["spc-high-consumption#Art. 3"]',
                         'extend_to = ["legal_representative/legal_representative_of"]\n'
                         'legal_basis = ["spc-high-consumption#Art. 3"]')
    assert wider != MEMO
    root = _with_national(tmp_path, {"preset.toml": PRESET, "memo.toml": wider})
    found = sorted(f.reason.split(" extends ")[0] for f in _targets(root))
    assert found == ["clause 'air-ticket'", "clause 'procurement'"]


def test_a_declared_role_that_reaches_a_kind_the_basis_excludes_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # a measure for organisations only, declared to reach through the legal representative:
    # the legal representative is a natural person, whom the basis does not reach
    measure = """
[[measure]]
id = "pp.licence.suspended"
title = "Licence suspended"
kind = "restrict"
effect = "deny"
context = "licensing"
basic_list = true
effective_from = 2020-01-01
legal_basis = ["admin-licensing-law"]
subject_kinds = ["enterprise"]
roles = ["legal_representative"]
"""
    memo = MEMO.split("[[memorandum.clause]]")[0] + """
[[memorandum.clause]]
id = "licence"
list = "pp.debtors"
measure = "pp.licence.suspended"
applied_by = "mof"
extend_to = ["legal_representative"]
legal_basis = ["admin-licensing-law"]
"""
    root = _with_national(tmp_path, {"preset.toml": PRESET, "memo.toml": memo + measure})
    found = _targets(root)
    assert len(found) == 1
    assert "the path reaches person subjects and its legal basis allows only enterprise" in \
        found[0].reason


def test_the_shipped_extensions_stay_within_their_basis(policy) -> None:  # type: ignore[no-untyped-def]
    assert [f for f in lint(policy, Profile.CN_2021) if f.rule == "target-within-basis"] == []
    declared = [m for m in policy.all("measure") if m.basic_list]
    assert declared and all(m.subject_kinds for m in declared)


# --- chains into no-score-penalty -----------------------------------------------------------

CHAIN = """
[preset]
id = "pp"
title = "test"
[[preset.sources]]
id = "src"
title = "a source"

[[law]]
id = "some-law"
title = "A law"
issued = 2020-01-01
rank = "law"

[[agency]]
id = "agency-a"
name = "Agency A"
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[calendar]]
id = "cn"
title = "Weekdays"

[[category]]
id = "pp.fine.unpaid"
title = "Fine left unpaid"
domain = "government"
data_class = "penalty"
severity = "general"
subject_kinds = ["enterprise"]
agencies = ["agency-a"]
national_catalog = true
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[action]]
id = "procurement.bid"
title = "Bid"
context = "procurement"

[[measure]]
id = "pp.procurement.ban"
title = "Excluded from procurement"
kind = "restrict"
effect = "deny"
actions = ["procurement.bid"]
context = "procurement"
basic_list = true
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[scheme]]
id = "pp.rating"
title = "Rating"
form = "deduction"
subject_kinds = ["enterprise"]
owner = "agency-a"
base = 100
grades = ["A", "D"]
bands = [{ grade = "A", min = 90 }, { grade = "D", min = 0 }]
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[scheme.indicator]]
id = "unpaid"
categories = ["pp.fine.unpaid"]
points = -20

[[list_rule]]
id = "pp.a"
title = "Rated D"
colour = "black"
authority = "agency-a"
subject_kinds = ["enterprise"]
trigger = { scheme = "pp.rating", grades = ["D"] }
removal = { maximum = "P3Y" }
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[list_rule]]
id = "pp.b"
title = "Rated D for a year"
colour = "black"
authority = "agency-a"
subject_kinds = ["enterprise"]
trigger = { list = "pp.a", held_for = "P1Y" }
removal = { maximum = "P3Y" }
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[list_rule]]
id = "pp.c"
title = "On the second list for a year"
colour = "black"
authority = "agency-a"
subject_kinds = ["enterprise"]
trigger = { list = "pp.b", held_for = "P1Y" }
removal = { maximum = "P3Y" }
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[memorandum]]
id = "pp.memo"
number = "PP 1"
title = "Memo"
signed = 2020-01-01
signatories = ["agency-a"]
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[memorandum.clause]]
id = "ban"
list = "pp.c"
measure = "pp.procurement.ban"
applied_by = "agency-a"
legal_basis = ["some-law"]
"""


def _score_findings(write_policy, text):  # type: ignore[no-untyped-def]
    policy = load_policy(write_policy({"preset.toml": text}))
    return [f for f in lint(policy, Profile.CN_2021) if f.rule == "no-score-penalty"]


def test_a_punishment_two_lists_away_from_a_grade_is_a_score_penalty(write_policy) -> None:  # type: ignore[no-untyped-def]
    found = _score_findings(write_policy, CHAIN)
    # only list C carries a punishment; A and B carry none, so they are not findings themselves
    assert len(found) == 1, "\n".join(map(str, found))
    f = found[0]
    assert f.obj == "list_rule[pp.c]" and f.severity == "error"
    assert f.file == "policies/p/preset.toml" and f.line
    assert "'pp.c' carries punishment measures (pp.procurement.ban)" in f.reason
    assert "pp.c <- pp.b <- pp.a <- grade D of scheme 'pp.rating'" in f.reason
    assert "scores alone" in f.source
    # the same chain starting from records, not from a grade, is no score penalty
    from_records = CHAIN.replace('trigger = { scheme = "pp.rating", grades = ["D"] }',
                                 'trigger = { categories = ["pp.fine.unpaid"] }')
    assert from_records != CHAIN
    assert _score_findings(write_policy, from_records) == []


def test_a_list_fed_by_records_and_by_a_grade_is_found_through_the_grade(write_policy) -> None:  # type: ignore[no-untyped-def]
    # list A also fed by records: the chain through its grade-triggered rule still counts
    both = CHAIN.replace('[[list_rule]]\nid = "pp.b"', '''[[list_rule]]
id = "pp.a.records"
list = "pp.a"
title = "Unpaid fine"
colour = "black"
authority = "agency-a"
subject_kinds = ["enterprise"]
trigger = { categories = ["pp.fine.unpaid"] }
removal = { maximum = "P3Y" }
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[list_rule]]
id = "pp.b"''')
    assert both != CHAIN
    found = _score_findings(write_policy, both)
    assert [f.obj for f in found] == ["list_rule[pp.c]"]
    assert "pp.c <- pp.b <- pp.a <- grade D of scheme 'pp.rating'" in found[0].reason
