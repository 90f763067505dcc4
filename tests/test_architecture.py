"""The core (model, ids, periods, policy, engine) is pure: it imports no IO and reads no clock.
Arrows point inward: the core imports none of the outer rooms."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "xinyong"
CORE = [SRC / "model.py", SRC / "ids.py", SRC / "periods.py",
        *sorted((SRC / "policy").rglob("*.py")), *sorted((SRC / "engine").rglob("*.py"))]
FORBIDDEN_MODULES = {"os", "pathlib", "io", "sqlite3", "socket", "subprocess", "shutil",
                     "sqlalchemy", "duckdb", "pyarrow", "requests", "httpx", "time", "random"}
OUTER = ("xinyong.files", "xinyong.dataset", "xinyong.cli", "xinyong.sim", "xinyong.ledger",
         "xinyong.api", "xinyong.portal", "xinyong.process")
CLOCK = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today")}


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
            assert not name.startswith(OUTER), f"{path.name} imports outer room {name}"
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                assert f.id != "open", f"{path.name} opens a file"
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                assert (f.value.id, f.attr) not in CLOCK, f"{path.name} reads the clock"
