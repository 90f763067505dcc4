"""List entries compiled (``engine.evaluate._entries``): one row per entry of every subject
on every list rule in force, with its start, planned end, end, status and triggering records.
Not compiled yet: every list rule is refused."""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.sql import Unsupported


def compile_entries(b: Build, lists: Iterable[str] | None = None) -> str:
    """Register the entries CTE (``entries``) and return its name."""
    raise Unsupported("list entries are not compiled by the batch evaluator yet; leave "
                      "entries and measures out of the batch run")


def entries_output(b: Build, name: str) -> exp.Select:
    """The ``entries`` output rows from the CTE ``name``."""
    raise Unsupported("list entries are not compiled by the batch evaluator yet")
