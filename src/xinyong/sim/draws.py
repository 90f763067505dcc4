"""Random draws the population generator makes that need none of its state: days,
office-hour stamps, amounts of money (the tax amounts around the documented
thresholds), and subjects drawn in proportion to a propensity."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from itertools import accumulate

from xinyong.policy.schema import Severity

# Documented thresholds of the tax "major violation" list (evaded >= 100,000 and >= 10 %).
TAX_THRESHOLD = Decimal(100000)
TAX_RATIO = Decimal("0.10")

_CENT = Decimal("0.01")


def uniform_day(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randint(0, (hi - lo).days))


def stamp(rng: random.Random, day: date) -> datetime:
    """A time during office hours on ``day`` (clerks enter records 08:00-18:00)."""
    return datetime.combine(day, time(8)) + timedelta(seconds=rng.randrange(10 * 3600))


def _money(x: float) -> Decimal:
    return max(Decimal(f"{x:.2f}"), _CENT)


def amounts(rng: random.Random, fields: Sequence[str], severity: Severity) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    if "tax_evaded" in fields:
        out.update(_tax(rng, with_payable="tax_payable" in fields))
    scale = {Severity.MINOR: 0.0, Severity.GENERAL: 1.0, Severity.SERIOUS: 2.0}[severity]
    for name in fields:
        if name in out:
            continue
        if "days" in name:
            out[name] = Decimal(rng.randint(1, 720))
        elif "hours" in name:
            out[name] = Decimal(rng.randint(1, 200))
        elif any(w in name for w in ("count", "times", "number")):
            out[name] = Decimal(rng.randint(1, 20))
        elif any(w in name for w in ("ratio", "rate", "share", "percent")):
            out[name] = Decimal(rng.randint(1, 99)) * _CENT
        else:
            out[name] = _money(rng.lognormvariate(8.0 + scale, 1.4))
    return out


def _tax(rng: random.Random, *, with_payable: bool) -> dict[str, Decimal]:
    """About a third of cases cross both thresholds; the rest miss one of them."""
    kind = rng.random()
    threshold, share = float(TAX_THRESHOLD), float(TAX_RATIO)
    if kind < 1 / 3:  # crosses both
        evaded = _money(rng.uniform(threshold, 30 * threshold))
        ratio = rng.uniform(share + 0.02, 0.9)
    elif kind < 2 / 3:  # below the amount, any share
        evaded = _money(rng.uniform(0.01 * threshold, 0.99 * threshold))
        ratio = rng.uniform(0.02, 0.9)
    else:  # above the amount but a small share of the tax due
        evaded = _money(rng.uniform(threshold, 20 * threshold))
        ratio = rng.uniform(0.01, share - 0.02)
    if not with_payable:
        return {"tax_evaded": evaded}
    # round the payable down so evaded / payable never drops below the intended ratio
    payable = (evaded / Decimal(f"{ratio:.4f}")).quantize(_CENT, rounding=ROUND_DOWN)
    return {"tax_evaded": evaded, "tax_payable": max(payable, evaded + _CENT)}


class Pool:
    """Subjects of some kinds, drawn with replacement in proportion to a propensity."""

    def __init__(self, members: list[int], weights: Sequence[float]):
        self.members = members
        self.cum = list(accumulate(weights[i] for i in members))

    def draw(self, rng: random.Random) -> int:
        return self.members[bisect_right(self.cum, rng.random() * self.cum[-1])]
