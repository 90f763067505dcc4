"""The core (model, ids, periods, policy, engine) is pure: it imports no IO and reads no clock;
so is the standings room. Arrows point inward: no module imports one that imports it back
(directly or round a circle), and each room imports only the rooms its row in
docs/architecture.md allows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "xinyong"
CORE = [SRC / "model.py", SRC / "ids.py", SRC / "periods.py",
        *sorted((SRC / "policy").rglob("*.py")), *sorted((SRC / "engine").rglob("*.py"))]
PURE = [*CORE, *sorted((SRC / "standings").glob("*.py"))]
FORBIDDEN_MODULES = {"os", "pathlib", "io", "sqlite3", "socket", "subprocess", "shutil",
                     "sqlalchemy", "duckdb", "pyarrow", "requests", "httpx", "time", "random"}
OUTER = ("xinyong.files", "xinyong.dataset", "xinyong.cli", "xinyong.sim", "xinyong.ledger",
         "xinyong.api", "xinyong.portal", "xinyong.process", "xinyong.service", "xinyong.pilot",
         "xinyong.standings", "xinyong.checks", "xinyong.batch")
CLOCK = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today")}

# room → the rooms it may import (besides itself and the package root, xinyong/__init__.py);
# the same table as docs/architecture.md (test_the_table_is_the_documented_one)
BASE = {"ids", "model", "periods", "policy", "reference"}
ALLOWED: dict[str, set[str]] = {
    "reference": set(),
    "ids": set(),
    "periods": set(),
    "merkle": set(),
    "model": {"ids", "periods"},
    "policy": {"ids", "model", "periods", "reference"},
    "engine": BASE,
    "standings": {"ids", "model", "periods", "policy", "engine"},
    "files": BASE,
    "checks": BASE,
    "dataset": {"ids", "model", "periods", "policy", "standings"},
    "ledger": BASE | {"merkle", "standings"},
    "process": BASE | {"engine", "standings", "ledger"},
    "service": BASE | {"engine", "standings", "ledger", "process"},
    "batch": BASE | {"engine", "checks", "ledger", "sim"},
    "sim": BASE | {"engine", "standings", "dataset", "ledger"},
    "api": BASE | {"engine", "standings", "ledger", "process", "service"},
    "portal": BASE | {"engine", "standings", "ledger", "process", "service"},
    "pilot": BASE | {"merkle", "engine", "standings", "files", "checks", "dataset", "ledger",
                     "process", "service", "sim", "batch"},
    "cli": {"*"},
}
# the stores implement a standings Source: they read its types, never compute a standing
ONLY = {("ledger", "standings"): {"xinyong.standings.source"},
        ("dataset", "standings"): {"xinyong.standings.source"}}


def _room(module: str) -> str:
    """``xinyong.ledger.reads`` → ``ledger``; ``xinyong.model`` → ``model``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "xinyong"


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_is_pure(path: Path) -> None:
    room = _room(_module(path))
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
            assert not name.startswith(OUTER) or _room(name) == room, \
                f"{path.name} imports outer room {name}"
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                assert f.id != "open", f"{path.name} opens a file"
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                assert (f.value.id, f.attr) not in CLOCK, f"{path.name} reads the clock"


# --- the import graph ----------------------------------------------------------------------


def _module(path: Path) -> str:
    parts = ("xinyong", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts}


def _target(name: str) -> str | None:
    """The module of ours an import names: itself, or the longest package prefix."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> dict[str, int]:
    """The modules of ours that ``module`` imports, anywhere in it (inside functions and
    ``TYPE_CHECKING`` blocks too), each with the line of its first import."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        found: list[str | None] = []
        if isinstance(node, ast.Import):
            found = [_target(a.name) for a in node.names if a.name.startswith("xinyong")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            if base == "xinyong" or base.startswith("xinyong."):
                found = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else _target(base)
                         for a in node.names]
        for target in found:
            if target is not None and target != module:
                out.setdefault(target, node.lineno)
    return out


GRAPH = {m: imports(m) for m in MODULES}


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        x = stack.pop()
                        on_stack.discard(x)
                        component.append(x)
                        if x == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on_stack.add(w)
                work.append((w, iter(sorted(graph[w]))))
            elif w in on_stack:
                low[v] = min(low[v], index[w])
    return found


def test_circles_are_found() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}, "e": {}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_circles() -> None:
    found = circles(GRAPH)
    assert not found, "modules that import each other, directly or round a circle: " + "; ".join(
        " → ".join(c) + " (" + ", ".join(
            f"{MODULES[a].relative_to(SRC.parent)}:{GRAPH[a][b]} imports {b}"
            for a in c for b in GRAPH[a] if b in c) + ")" for c in found)


def test_every_room_has_a_row() -> None:
    rooms = {_room(m) for m in MODULES} - {"xinyong"}
    assert rooms <= set(ALLOWED), (
        f"rooms without a row: {sorted(rooms - set(ALLOWED))}; give each its arrows in "
        "docs/architecture.md and in ALLOWED here")


def test_arrows_point_inward() -> None:
    wrong = []
    for m, targets in GRAPH.items():
        room = _room(m)
        may = ALLOWED.get(room, set())
        for target, line in targets.items():
            to = _room(target)
            if to not in (room, "xinyong") and "*" not in may and to not in may:
                wrong.append(f"{MODULES[m].relative_to(SRC.parent)}:{line} imports {target} "
                             f"({room} may import {', '.join(sorted(may)) or 'nothing'})")
            elif target not in ONLY.get((room, to), {target}):
                wrong.append(f"{MODULES[m].relative_to(SRC.parent)}:{line} imports {target} "
                             f"({room} may import only {sorted(ONLY[room, to])} of {to})")
    assert not wrong, "imports the table in docs/architecture.md does not allow:\n" + \
        "\n".join(wrong)


def test_the_table_is_the_documented_one() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("<!-- rooms: the test reads this table -->")[1].split("<!-- /rooms -->")[0]
    documented: dict[str, set[str]] = {}
    for row in table.strip().splitlines()[2:]:
        room, _, may = (c.strip() for c in row.strip().strip("|").split("|"))
        names = set(re.findall(r"`([a-z]+)`", may))
        documented[room.strip("`")] = ({"*"} if may == "every room"
                                       else set() if may == "nothing" else names)
    assert documented == ALLOWED


def test_standings_are_computed_in_one_room_from_a_source() -> None:
    from xinyong.dataset import Dataset
    from xinyong.ledger.store import Ledger
    from xinyong.standings import Source

    for name in ("standing", "standings", "due_process", "due_processes"):
        assert not hasattr(Ledger, name), f"the ledger computes {name}: it only stores facts"
        assert not hasattr(Dataset, name), f"the dataset computes {name}"
    ledger = Ledger.open("sqlite://")
    try:
        assert isinstance(ledger, Source)
    finally:
        ledger.dispose()
    assert isinstance(Dataset([], [], [], []), Source)
    # the only code that tells sources apart by their attributes is gone
    for m, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        assert "getattr(source" not in text, f"{m} tells sources apart"
