"""Bad policies give clear errors naming file, line and key; every problem at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from xinyong.files import load_policy
from xinyong.policy.loader import PolicyError
from xinyong.policy.schema import PolicyFile

PRESET = """
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
"""

CATEGORY = """
[[category]]
id = "fine.unpaid"
title = "Fine left unpaid"
domain = "government"
data_class = "penalty"
severity = "general"
subject_kinds = ["person"]
agencies = ["agency-a"]
effective_from = 2020-01-01
legal_basis = ["some-law"]
"""

SCHEME = """
[[scheme]]
id = "s.points"
title = "Points"
form = "points"
subject_kinds = ["person"]
owner = "agency-a"
base = 100
grades = ["A", "B"]
bands = [{ grade = "A", min = 90 }, { grade = "B", min = 0 }]
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[scheme.indicator]]
id = "unpaid"
categories = ["fine.unpiad"]
points = -5
"""

Make = Callable[[dict[str, str]], Path]


def problems(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as e:
        load_policy(root)
    return [str(p) for p in e.value.problems]


def test_a_valid_small_policy_loads(write_policy: Make) -> None:
    root = write_policy({"preset.toml": PRESET, "c.toml": CATEGORY})
    assert "fine.unpaid" in load_policy(root).versions["category"]


def test_malformed_toml_names_file_and_line(write_policy: Make) -> None:
    root = write_policy({"preset.toml": PRESET, "c.toml": CATEGORY + '\n\nbroken = "no end\n'})
    (msg,) = problems(root)
    assert msg.startswith("policies/p/c.toml:")
    line = int(msg.split(":")[1])
    assert line == CATEGORY.count("\n") + 3
    assert "TOML syntax" in msg


def test_unknown_category_in_a_scheme_names_the_key(write_policy: Make) -> None:
    root = write_policy({"preset.toml": PRESET, "c.toml": CATEGORY, "s.toml": SCHEME})
    (msg,) = problems(root)
    assert "policies/p/s.toml:3" in msg  # the line of id = "s.points"
    assert "scheme[s.points].indicator[unpaid].categories[0]" in msg
    assert "unknown category 'fine.unpiad'" in msg


def test_missing_legal_basis_is_refused(write_policy: Make) -> None:
    text = CATEGORY.replace('legal_basis = ["some-law"]\n', "")
    root = write_policy({"preset.toml": PRESET, "c.toml": text})
    (msg,) = problems(root)
    assert "category[fine.unpaid].legal_basis" in msg
    assert "Field required" in msg


def test_legal_basis_must_name_a_declared_law(write_policy: Make) -> None:
    text = CATEGORY.replace('["some-law"]', '["no-such-law#Art. 2"]')
    root = write_policy({"preset.toml": PRESET, "c.toml": text})
    (msg,) = problems(root)
    assert "unknown law 'no-such-law'" in msg


def test_forbidden_category_religion_is_refused(write_policy: Make) -> None:
    text = CATEGORY.replace('"fine.unpaid"', '"social.religion.attendance"').replace(
        "Fine left unpaid", "Attendance at services")
    root = write_policy({"preset.toml": PRESET, "c.toml": text})
    (msg,) = problems(root)
    assert "category[social.religion.attendance].id" in msg
    assert "refers to religious belief (religion) (term 'religion')" in msg


@pytest.mark.parametrize("field", ["face_match_score", "health_status", "gps_trace"])
def test_forbidden_amount_fields_are_refused(write_policy: Make, field: str) -> None:
    text = CATEGORY + f'amounts = ["{field}"]\n'
    root = write_policy({"preset.toml": PRESET, "c.toml": text})
    (msg,) = problems(root)
    assert "category[fine.unpaid].amounts[0]" in msg
    assert "sensitive personal information may never be recorded" in msg


def test_every_problem_is_reported_at_once(write_policy: Make) -> None:
    bad_cat = CATEGORY.replace('severity = "general"', 'severity = "grave"')
    bad_scheme = SCHEME.replace("base = 100", "base = 100\nbands_typo = 1")
    root = write_policy({"preset.toml": PRESET, "c.toml": bad_cat, "s.toml": bad_scheme})
    msgs = problems(root)
    assert any("category[fine.unpaid].severity" in m for m in msgs)
    assert any("scheme[s.points].bands_typo" in m and "unknown key" in m for m in msgs)


def test_overlapping_versions_are_refused_unless_temporary(write_policy: Make) -> None:
    second = CATEGORY.replace("2020-01-01\nlegal", "2021-01-01\nlegal")
    root = write_policy({"preset.toml": PRESET, "c.toml": CATEGORY, "d.toml": second})
    assert any("overlaps" in m for m in problems(root))
    temp = second.replace(
        "effective_from = 2021-01-01",
        "effective_from = 2021-01-01\neffective_to = 2021-06-01\ntemporary = true",
    )
    root = write_policy({"preset.toml": PRESET, "c.toml": CATEGORY, "d.toml": temp})
    assert load_policy(root)


def test_bad_period_names_the_example(write_policy: Make) -> None:
    text = CATEGORY + 'publicity = { min = "3 months", max = "P3Y" }\n'
    root = write_policy({"preset.toml": PRESET, "c.toml": text})
    (msg,) = problems(root)
    assert "category[fine.unpaid].publicity.min" in msg and "P3M" in msg


def test_json_schema_describes_the_sections() -> None:
    schema = PolicyFile.model_json_schema()
    assert {"category", "scheme", "list_rule", "memorandum", "measure"} <= set(
        schema["properties"])
    json.dumps(schema)


def test_one_broken_category_gives_no_knock_on_reports(write_policy: Make) -> None:
    bad = CATEGORY.replace('severity = "general"', 'severity = "grave"')
    root = write_policy({"preset.toml": PRESET, "c.toml": bad, "s.toml": SCHEME.replace(
        "fine.unpiad", "fine.unpaid")})
    msgs = problems(root)
    assert len(msgs) == 1 and "category[fine.unpaid].severity" in msgs[0]


def test_line_numbers_point_at_the_right_version(write_policy: Make) -> None:
    first = CATEGORY.replace("legal_basis", "effective_to = 2021-01-01\nlegal_basis")
    second = CATEGORY.replace("2020-01-01\nlegal", "2021-01-01\nlegal").replace(
        'severity = "general"', 'severity = "grave"')
    root = write_policy({"preset.toml": PRESET, "c.toml": first + second})
    (msg,) = problems(root)
    second_id_line = (first + second).split("\n").index('id = "fine.unpaid"', 3) + 1
    assert f"c.toml:{second_id_line}:" in msg
