"""The batch evaluator at national scale: generation, the compiled plan on DuckDB, the
hand-written slice, and the per-subject loop side by side (issue 12).

Each run happens in a child process, so its peak RSS (VmHWM in /proc/self/status) is its
own. Scales are records: 1M, 10M, 100M, 330M (33M firms at 330M); firms = records/10
and as many persons, the category rates scaled alike to reach the records.

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_batch.py [--scales 1M,10M] [--loop 200000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

SCALES = {"1M": 1_000_000, "10M": 10_000_000, "100M": 100_000_000, "330M": 330_000_000}
AS_OF = date(2025, 12, 31)


def child(code: str) -> tuple[dict[str, object], float]:
    """Run ``code`` in a fresh interpreter; its JSON result and its own peak RSS in GB
    (VmHWM from /proc, which the child prints last: see ``_HWM``)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("{"))
    return (json.loads(result),
            _peak_from_proc(done.stderr) / 1024 / 1024)


def _peak_from_proc(stderr: str) -> int:
    """The child's VmHWM (kB), which it prints last on stderr (see ``_HWM``)."""
    for line in reversed(stderr.splitlines()):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# every child ends by printing its peak RSS from /proc
_HWM = """
import sys
sys.stderr.write(next(x for x in open('/proc/self/status') if x.startswith('VmHWM')))
"""


GENERATE = """
import json, time
from pathlib import Path
from xinyong.files import load_policy
from xinyong.sim.columnar import Sizes, generate_columnar, intensity_for
from xinyong.sim.shape import DISTRIBUTIONS
from datetime import date
p = load_policy(None)
firms = {records} // 10
other = round(firms * DISTRIBUTIONS.per_firm_other_orgs)
sizes = Sizes(firms, firms, other, other)
k = intensity_for(p, sizes, {records}, date(2019, 1, 1), date(2025, 12, 31))
t = time.perf_counter()
m = generate_columnar(p, Path({out!r}), seed=1, sizes=sizes, intensity=k)
print(json.dumps({{"seconds": time.perf_counter() - t, "counts": m["counts"]}}))
"""

RATE = """
import json, shutil, time
from datetime import date
from pathlib import Path
from xinyong.batch import open_folder, run_plan
from xinyong.batch.engines import default_memory_limit, make_engine
from xinyong.engine.batch import compile_plan
from xinyong.files import load_policy
p = load_policy(None)
as_of = date.fromisoformat({as_of!r})
work = Path({data!r} + "-out")
shutil.rmtree(work, ignore_errors=True)
seconds, rows = {{}}, {{}}
for name, kw in (("all", {{}}),
                 ("slice", {{"schemes": ["sat.tax_credit"], "lists": ["spc.dishonest_debtors"]}})):
    t = time.perf_counter()
    plan = compile_plan(p, as_of, **kw)
    compiled = time.perf_counter() - t
    engine = make_engine("duckdb", memory_limit=default_memory_limit(), temp_dir=work / "spill")
    try:
        run = run_plan(plan, open_folder(Path({data!r})), engine, work / name)
    finally:
        engine.close()
    seconds[name] = time.perf_counter() - t
    seconds[name + "_compile"] = compiled
    rows[name] = run.manifest["rows"]
print(json.dumps({{"seconds": seconds, "rows": rows}}))
"""

SLICE = """
import json, sys, time
from datetime import date
import duckdb
sys.path.insert(0, "benchmarks")
from slice_sql import queries
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for t in ("subjects", "links", "records", "events"):
    con.execute(f"CREATE VIEW {{t}} AS SELECT * FROM read_parquet('{data}/{{t}}/*.parquet')")
seconds, rows = {{}}, {{}}
for name, q in queries(date.fromisoformat({as_of!r})).items():
    t = time.perf_counter()
    rows[name] = con.execute(f"SELECT count(*) FROM ({{q}})").fetchall()[0][0]
    seconds[name] = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "rows": rows}}))
"""

LOOP = """
import json, time
from datetime import date
from xinyong.dataset import Dataset
from xinyong.files import load_policy
from xinyong.sim.population import generate
from xinyong.standings import standings
p = load_policy(None)
pop = generate(p, seed=1, persons={n} * 5 // 6, enterprises={n} // 6)
ds = Dataset(pop.subjects, pop.links, pop.records, pop.events)
t = time.perf_counter()
standings(ds, p, pop.subjects, date.fromisoformat({as_of!r}))
print(json.dumps({{"seconds": time.perf_counter() - t, "subjects": len(pop.subjects)}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scales", default="1M", help="comma-separated: 1M,10M,100M,330M")
    ap.add_argument("--loop", type=int, default=20_000,
                    help="subjects for the per-subject loop (the issue asks 200000)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/xinyong-bench"))
    args = ap.parse_args()
    growth = []
    print(f"{'scale':>6} {'records':>11} {'gen s':>8} {'gen rec/s':>10} {'gen GB':>7} "
          f"{'rate s':>8} {'rate rec/s':>11} {'rate GB':>8}")
    for name in args.scales.split(","):
        n = SCALES[name]
        data = args.work / name
        gen, gen_gb = child(GENERATE.format(records=n, out=str(data)) + _HWM)
        records = gen["counts"]["records"]  # type: ignore[index]
        rated, rate_gb = child(RATE.format(as_of=AS_OF.isoformat(), data=str(data)) + _HWM)
        hand, hand_gb = child(SLICE.format(as_of=AS_OF.isoformat(), data=str(data)) + _HWM)
        gs, rs = float(gen["seconds"]), float(rated["seconds"]["all"])  # type: ignore[index]
        growth.append((name, records, gs, rs))
        print(f"{name:>6} {records:>11,} {gs:>8.1f} {records / gs:>10,.0f} {gen_gb:>7.2f} "
              f"{rs:>8.1f} {records / rs if rs else 0:>11,.0f} {rate_gb:>8.2f}")
        print(f"       every preset, every output: {rated['rows']['all']} "  # type: ignore[index]
              f"(compiling {rated['seconds']['all_compile']:.1f} s of it)")  # type: ignore[index]
        times = hand["seconds"]  # type: ignore[index]
        hand_s = sum(times.values())  # type: ignore[union-attr]
        sliced = float(rated["seconds"]["slice"])  # type: ignore[index]
        print(f"       hand-written slice: {times['ratings']:.1f} s tax rating "  # type: ignore[index]
              f"({hand['rows']['ratings']:,} firms), {times['entries']:.1f} s court list "  # type: ignore[index]
              f"({hand['rows']['entries']:,} entries), {times['measures']:.1f} s measures "  # type: ignore[index]
              f"({hand['rows']['measures']:,}); peak {hand_gb:.2f} GB")  # type: ignore[index]
        print(f"       compiled slice (sat.tax_credit, spc.dishonest_debtors, its measures): "
              f"{sliced:.1f} s {rated['rows']['slice']} = {sliced / hand_s:.2f}x the "  # type: ignore[index]
              "hand-written (goal <= 1.5x)")
    print("\ngrowth: microseconds per record")
    for name, records, gs, rs in growth:
        print(f"  {name:>5}: generate {gs / records * 1e6:7.2f}   rate {rs / records * 1e6:7.3f}")
    loop, loop_gb = child(LOOP.format(n=args.loop, as_of=AS_OF.isoformat()) + _HWM)
    ls = loop["subjects"] / loop["seconds"]  # type: ignore[operator]
    print(f"\nper-subject loop: {loop['subjects']} subjects in {loop['seconds']:.1f} s = "
          f"{ls:,.0f} subjects/s (peak {loop_gb:.2f} GB)")
    if growth:
        name, records, _, rs = growth[0]
        subjects = records / 10 * 2.1
        bs = subjects / rs if rs else 0.0
        print(f"batch ({name}, compiled schemes only): {bs:,.0f} subjects/s; "
              f"ratio {bs / ls:,.0f}x (goal >= 1,000x, over all presets)")


if __name__ == "__main__":
    main()
