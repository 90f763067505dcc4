"""The README's Layout block names every room of src/xinyong/ (each package and top-level
module) and nothing else, so a newcomer's map matches the tree, as docs/presets.md is kept
current with the presets."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "xinyong"
ROOM = re.compile(r"[A-Za-z_]\w*(?:\.py|/)")


def tree_rooms(src: Path) -> set[str]:
    """``name/`` for each package directory, ``name.py`` for each module but ``__init__.py``."""
    rooms = set()
    for p in src.iterdir():
        if p.is_dir() and not p.name.startswith(("__", ".")):
            rooms.add(p.name + "/")
        elif p.suffix == ".py" and p.name != "__init__.py":
            rooms.add(p.name)
    return rooms


def layout_rooms(readme: str) -> list[str]:
    """The names in the first column under ``src/xinyong/`` of the fenced block after
    ``## Layout``: lines indented by two spaces start with one or more room names."""
    section = readme.split("\n## Layout\n", 1)[1]
    block = section.split("```", 2)[1]
    lines = block.splitlines()
    start = lines.index("src/xinyong/")
    names: list[str] = []
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):
            break  # the next top-level entry (policies/ ...)
        if not re.match(r"  \S", line):
            continue  # a description carried over to the next line
        for word in line.split():
            if not ROOM.fullmatch(word):
                break
            names.append(word)
    return names


def test_layout_block_names_every_room_and_no_other() -> None:
    named = layout_rooms((ROOT / "README.md").read_text(encoding="utf-8"))
    rooms = tree_rooms(SRC)
    problems = []
    if missing := sorted(rooms - set(named)):
        problems.append(f"src/xinyong/ has {', '.join(missing)} but the block does not name "
                        "it: add a line '  NAME   what it holds' under src/xinyong/")
    if unknown := sorted(set(named) - rooms):
        problems.append(f"the block names {', '.join(unknown)}, which src/xinyong/ does not "
                        "have: remove the name or correct it")
    if twice := sorted({n for n in named if named.count(n) > 1}):
        problems.append(f"the block names {', '.join(twice)} more than once")
    assert not problems, "README.md, ## Layout: " + "; ".join(problems)
