"""Rooms this issue made (issue 11, items 6 and 7): reference data imports nothing of ours, so
every room may read it; the simulator only simulates (the demo and the study's figures, which
put the platform to use, are in ``pilot``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "xinyong"


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_region_codes_are_reference_data_that_imports_nothing_of_ours() -> None:
    room = sorted((SRC / "reference").glob("*.py"))
    assert SRC / "reference" / "regions.py" in room
    for path in room:
        ours = {n for n in imports(path) if n.split(".")[0] == "xinyong"}
        assert not ours, f"reference/{path.name} imports {sorted(ours)}"
    # its readers take it from there, the service no longer from the simulator
    assert "xinyong.reference.regions" in imports(SRC / "service" / "admin.py")
    assert "xinyong.reference.regions" in imports(SRC / "sim" / "population.py")


@pytest.mark.parametrize("path", sorted((SRC / "sim").glob("*.py")), ids=lambda p: p.name)
def test_the_simulator_uses_nothing_above_the_ledger(path: Path) -> None:
    above = ("xinyong.pilot", "xinyong.service", "xinyong.api", "xinyong.cli", "xinyong.process")
    wrong = sorted(n for n in imports(path) if n.startswith(above))
    assert not wrong, f"sim/{path.name} imports {wrong}"


def test_the_demo_and_the_study_are_applications_in_pilot() -> None:
    assert not (SRC / "sim" / "demo.py").exists() and (SRC / "pilot" / "demo.py").exists()
    assert (SRC / "pilot" / "study.py").exists()
    # the command line prints the study; it counts nothing itself
    assert "xinyong.pilot.study" in imports(SRC / "cli" / "sim.py")
