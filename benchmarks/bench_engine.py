"""Per-subject evaluate and decide timings with every preset loaded.

A firm with 20 records across the catalog (court, tax, market regulation, administrative
penalties), its legal representative and a second firm that person runs. Prints median and
p99, and, measured side by side in the same run, the ratio to a plain per-record loop that
only sums points (the floor any evaluator pays for touching 20 records).

Run: make bench   (or .venv/bin/python benchmarks/bench_engine.py [--n 3000])
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from builders import firm, link, person, record
from xinyong.engine import decide, evaluate
from xinyong.files import load_policy

CATEGORIES = [
    "judicial.debtor.refuses_to_perform", "judicial.debtor.evades_enforcement",
    "tax.late_payment", "tax.late_filing", "tax.invoice_irregular", "tax.evasion",
    "commercial.annual_report.missing", "commercial.address.unreachable",
    "admin.penalty.general", "samr.penalty.moderate",
]


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000, help="evaluations to time")
    args = ap.parse_args()
    policy = load_policy()
    known = set(policy.versions["category"])
    cats = [c for c in CATEGORIES if c in known]
    f1, f2, rep = firm("E1"), firm("E2"), person("P1")
    recs = []
    for i in range(20):
        cat = cats[i % len(cats)]
        amounts = {"tax_evaded": 150000, "tax_payable": 900000} if cat == "tax.evasion" else {}
        recs.append(record(f"R{i}", "E1", cat, date(2023, 1 + i % 12, 1 + i), agency="x",
                           **amounts))
    links = [link("E1", "P1", "legal_representative"), link("E1", "P1", "responsible_person"),
             link("E2", "P1", "responsible_person")]
    as_of = date(2024, 6, 1)
    related = [f2, rep]
    policy.at(as_of)  # warm the cached policy view, as a running service would have it

    points = {c: Decimal(-5) for c in cats}

    def plain_loop() -> Decimal:
        total = Decimal(100)
        for r in recs:
            if r.effective <= as_of and r.recorded_at <= datetime(2024, 6, 1, 23, 59):
                total += points.get(r.category, Decimal(0))
        return total

    ev_ns, base_ns = [], []
    for _ in range(args.n):
        t0 = time.perf_counter_ns()
        st = evaluate(policy, f1, recs, [], links, as_of, related=related)
        t1 = time.perf_counter_ns()
        plain_loop()
        t2 = time.perf_counter_ns()
        ev_ns.append((t1 - t0) / 1000)
        base_ns.append((t2 - t1) / 1000)
    actions = sorted(st.by_action) or ["transport.air.ticket"]
    dec_ns = []
    for i in range(args.n * 10):
        a = actions[i % len(actions)]
        t0 = time.perf_counter_ns()
        decide(st, a)
        dec_ns.append((time.perf_counter_ns() - t0) / 1000)
    med_ev, med_base = statistics.median(ev_ns), statistics.median(base_ns)
    print(f"policy {policy.digest}: {sum(len(v) for v in policy.versions.values())} objects "
          f"in {len(policy.presets)} presets; subject with {len(recs)} records, "
          f"{len(st.measures)} measures in force, {len(st.entries)} list entries")
    print(f"evaluate : median {med_ev:8.1f} µs   p99 {percentile(ev_ns, 0.99):8.1f} µs   "
          f"(n={len(ev_ns)})")
    print(f"decide   : median {statistics.median(dec_ns):8.2f} µs   "
          f"p99 {percentile(dec_ns, 0.99):8.2f} µs   (n={len(dec_ns)}, reasons included)")
    print(f"plain per-record loop: median {med_base:6.2f} µs; evaluate / loop = "
          f"{med_ev / med_base:.0f}×")
    print(f"goals: evaluate ≤ 1000 µs median → {'met' if med_ev <= 1000 else 'NOT met'}; "
          f"decide ≤ 20 µs median → "
          f"{'met' if statistics.median(dec_ns) <= 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
