from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from xinyong.files import load_policy
from xinyong.policy.model import Policy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def policy() -> Policy:
    """Every preset under policies/, as shipped."""
    return load_policy(ROOT / "policies")


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write a small policy folder: {'preset.toml': ..., 'x.toml': ...} under tmp/policies/p."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "policies"
        folder = root / "p"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return root

    return make
