"""Reading policy folders from disk (IO kept out of the core)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from xinyong.policy.loader import TERM_FILE, PolicyError, Problem, build
from xinyong.policy.model import Policy


def default_policy_dir() -> Path:
    """``$XINYONG_POLICIES``, else ``./policies``, else the presets shipped beside the source."""
    env = os.environ.get("XINYONG_POLICIES")
    if env:
        return Path(env)
    here = Path("policies")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "policies"


def read_policy_texts(root: Path, paths: Iterable[Path] = ()) -> dict[str, str]:
    """``{relative path: text}`` for every ``*.toml`` under ``root`` (or the given paths)."""
    files: dict[str, str] = {}
    problems: list[Problem] = []
    targets = list(paths) or [root]
    for target in targets:
        found = [target] if target.is_file() else sorted(target.rglob("*.toml"))
        for f in found:
            if not f.is_file():
                continue
            try:
                name = f.resolve().relative_to(root.resolve().parent).as_posix()
            except ValueError:
                name = f.as_posix()
            try:
                files[name] = f.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                problems.append(Problem(name, "", f"not UTF-8 text (byte {e.start}); save the "
                                                  "file as UTF-8"))
            except OSError as e:
                problems.append(Problem(name, "", f"cannot be read: {e.strerror}"))
    if problems:
        raise PolicyError(problems)
    return with_sensitive_terms(files)


_TERMS_TABLE = re.compile(r"^\s*\[\[\s*sensitive_class\s*\]\]", re.M)


def with_sensitive_terms(files: dict[str, str]) -> dict[str, str]:
    """``files``, with the shipped sensitive-term list added if none of them has one: the
    screen for forbidden data applies to every policy, however small."""
    shipped = Path(__file__).resolve().parents[2] / TERM_FILE
    if any(_TERMS_TABLE.search(t) for t in files.values()) or not shipped.is_file():
        return files
    return {**files, TERM_FILE: shipped.read_text(encoding="utf-8")}


def load_policy(root: Path | None = None, presets: Iterable[str] | None = None) -> Policy:
    root = root or default_policy_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"no policy folder at {root}; pass --policies PATH")
    return build(read_policy_texts(root), presets)
