"""Grade runs compiled (``engine.history.grade_runs``): per subject and scheme, the maximal
intervals of one grade from the first turning point to as-of, for grade-triggered lists.
Not compiled yet."""

from __future__ import annotations

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.sql import Unsupported


def grade_runs(b: Build, scheme: str) -> str:
    """Register the CTE of ``scheme``'s grade runs and return its name. Columns: ``subject``,
    ``start`` (DATE), ``end`` (DATE, NULL while the run lasts), ``grade`` and ``records``
    (the rating's records, in :attr:`Rating.records` order, as a list of strings)."""
    raise Unsupported(f"grade runs of {scheme!r} are not compiled by the batch evaluator yet")
