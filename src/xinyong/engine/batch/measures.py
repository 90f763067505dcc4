"""Measures compiled (``engine.evaluate._measures``): for every active entry, the measures its
list binds, on the listed subject and along each clause's ``extend_to`` link paths.
Not compiled yet."""

from __future__ import annotations

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.sql import Unsupported


def compile_measures(b: Build, entries: str) -> exp.Select:
    """The ``measures`` output rows, reading the entries CTE ``entries``."""
    raise Unsupported("measures are not compiled by the batch evaluator yet")
