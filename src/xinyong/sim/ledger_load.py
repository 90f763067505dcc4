"""A synthetic population written to the ledger, as if the platform had been running through
the population's window: one transaction per day, each at the time of the day's last record.

The ledger stamps every fact with its transaction time (``recorded_at``). Written all at once,
a year of history would be unknown before today, and a question about any past day (which,
by default, counts only what had been recorded by the end of that day) would find nothing.
Written day by day, a decision on a past day sees what the platform knew then."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time

from xinyong.ledger.store import Batch, Ledger
from xinyong.sim.population import Population


@dataclass(frozen=True)
class LoadReport:
    written: dict[str, int]
    """Facts written, by kind (subject, identifier, link, record, event)."""
    transactions: int
    first: datetime
    last: datetime


def load_population(ledger: Ledger, population: Population,
                    now: datetime | None = None) -> LoadReport:
    """Write ``population`` to ``ledger`` day by day. Subjects and links that exist before the
    window are written at its start; the rest on the day they begin. Nothing is dated after
    ``now`` (default: the ledger's clock). Idempotent: facts already recorded are skipped."""
    now = now or ledger.clock()
    start = datetime.combine(population.start, time.min)
    days: dict[date, Batch] = defaultdict(Batch)
    stamps: dict[date, datetime] = {}

    def day_of(on: date, stamp: datetime | None = None) -> Batch:
        at = max(start, min(stamp or datetime.combine(on, time(8)), now))
        stamps[at.date()] = max(stamps.get(at.date(), at), at)
        return days[at.date()]

    for s in population.subjects:
        day_of(s.registered or population.start).subjects.append(s)
    for lk in population.links:
        day_of(lk.start).links.append(lk)
    for r in population.records:
        day_of(r.recorded_at.date(), r.recorded_at).records.append(r)
    for e in population.events:
        day_of(e.recorded_at.date(), e.recorded_at).events.append(e)
    written: Counter[str] = Counter()
    for day in sorted(days):
        result = ledger.write(days[day], at=stamps[day])
        written.update(result.written)
    ordered = sorted(stamps.values())
    return LoadReport(dict(written), len(days), ordered[0] if ordered else now,
                      ordered[-1] if ordered else now)
