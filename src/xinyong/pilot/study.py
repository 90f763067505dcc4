"""The study's figures: every preset evaluated on a synthetic population at several dates (the
Suining pilot in 2012, the Covid period in 2021, and the final date). ``xinyong sim study``
prints them; the figures are computed here, away from the printing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from xinyong.dataset import Dataset
from xinyong.model import Standing, Subject
from xinyong.policy.model import Policy
from xinyong.sim.population import Population
from xinyong.standings import standing

MOMENTS = (date(2012, 6, 30), date(2021, 6, 30))
"""The dates studied before the final one: the Suining pilot, the Covid period."""


def snapshots(day: date) -> list[date]:
    """The dates a study evaluates on: each of ``MOMENTS`` before ``day``, then ``day``."""
    return [d for d in MOMENTS if d < day] + [day]


@dataclass
class Figures:
    """What a study counts, per date; measures and the example only on the final date."""

    dates: list[date]
    grades: dict[tuple[str, date], Counter[str]] = field(default_factory=dict)
    """(scheme, date) → grade → subjects."""
    lists: Counter[tuple[str, date]] = field(default_factory=Counter)
    """(list, date) → subjects with an active entry."""
    measures: Counter[str] = field(default_factory=Counter)
    """measure → subjects it is in force on, on the final date."""
    example: Standing | None = None
    """The subject with the most measures on the final date, those extended along links
    counted five times: the one worth explaining."""


Progress = Callable[[tuple[Subject, ...], date], Iterable[Subject]]


def study(policy: Policy, pop: Population, dates: list[date],
          progress: Progress = lambda subjects, _on: subjects) -> Figures:
    """Evaluate every subject of ``pop`` on each of ``dates`` (the last is the final date);
    ``progress`` wraps each pass over the subjects (a progress bar)."""
    ds = Dataset(pop.subjects, pop.links, pop.records, pop.events)
    day = dates[-1]
    figures = Figures(dates)
    grades, lists, measures = figures.grades, figures.lists, figures.measures
    best: tuple[int, Standing | None] = (-1, None)
    for when in dates:
        for s in progress(pop.subjects, when):
            st = standing(ds, policy, s, when)
            for r in st.ratings.values():
                grades.setdefault((r.scheme, when), Counter())[r.grade] += 1
            for lst in {e.list for e in st.active_entries}:
                lists[(lst, when)] += 1
            if when != day:
                continue
            for m in {m.measure for m in st.measures}:
                measures[m] += 1
            score = len(st.measures) + 5 * sum(bool(m.via) for m in st.measures)
            if score > best[0]:
                best = (score, st)
    figures.example = best[1]
    return figures
