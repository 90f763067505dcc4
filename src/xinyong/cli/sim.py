"""Simulator commands: generate, study (`xinyong sim …`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from xinyong.cli.common import (
    DEFAULT_DATA,
    DataOpt,
    PoliciesOpt,
    _date,
    _policy,
    _write,
    out,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Synthetic populations: generate one, or study every preset on one.")


@app.command(epilog="Exit codes: 0 written; 2 the policy does not load or the sizes are bad.")
def generate(
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data")] = 0,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write Parquet to")
    ] = DEFAULT_DATA,
    persons: Annotated[int, typer.Option(min=1, help="Number of persons")] = 2000,
    enterprises: Annotated[int, typer.Option(min=1, help="Number of enterprises")] = 400,
    firms: Annotated[int | None, typer.Option(
        min=0, help="Number of firms: the columnar generator for national scale, writing a "
        "folder per table of part files (subjects/, links/, records/, events/, attributes/)")
    ] = None,
    records: Annotated[int | None, typer.Option(
        min=0, help="With --firms: about this many records (scales every category's rate "
        "alike); default the documented rates")] = None,
    policies: PoliciesOpt = None,
) -> None:
    """Generate a deterministic synthetic population (persons, firms, public bodies, links,
    records across the catalog, events) and write it as Parquet."""
    policy = _policy(policies)
    if firms is not None:
        _generate_columnar(policy, seed, out_dir, persons, firms, records)
        return
    from xinyong.sim.population import generate as gen

    pop = gen(policy, seed=seed, persons=persons, enterprises=enterprises)
    paths = _write(pop, out_dir)
    out.print(f"{len(pop.subjects)} subjects, {len(pop.links)} links, {len(pop.records)} "
              f"records, {len(pop.events)} events → {out_dir}")
    for name, p in paths.items():
        out.print(f"  {name}: {p}")


def _generate_columnar(policy: Any, seed: int, out_dir: Path, persons: int, firms: int,
                       records: int | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from xinyong.cli.common import fail
    from xinyong.sim.columnar import Sizes, generate_columnar, intensity_for
    from xinyong.sim.shape import DISTRIBUTIONS

    other = round(firms * DISTRIBUTIONS.per_firm_other_orgs)
    sizes = Sizes(persons, firms, other, other)
    start, end = date(2019, 1, 1), date(2025, 12, 31)
    intensity = 1.0 if records is None else intensity_for(policy, sizes, records, start, end)
    total = sizes.persons + sizes.organisations
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=out) as bar:
        task = bar.add_task("Generating subjects", total=total)
        try:
            manifest = generate_columnar(
                policy, out_dir, seed=seed, sizes=sizes, start=start, end=end,
                intensity=intensity, progress=lambda what, n: bar.advance(task, n))
        except (ValueError, OSError) as e:
            fail(f"cannot generate the population in {out_dir}: {e}")
    c = manifest["counts"]
    out.print(f"{c['subjects']} subjects, {c['links']} links, {c['records']} records, "
              f"{c['events']} events in {len(manifest['files'])} part files → {out_dir}")


@app.command(epilog="Exit codes: 0 done; 2 the policy does not load.")
def study(
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    persons: Annotated[int, typer.Option(min=1, help="Number of persons")] = 2000,
    enterprises: Annotated[int, typer.Option(min=1, help="Number of enterprises")] = 400,
    as_of: Annotated[str, typer.Option("--as-of", help="Final evaluation date")] = "2025-12-31",
    data: DataOpt = DEFAULT_DATA,
    policies: PoliciesOpt = None,
) -> None:
    """Generate a synthetic population with history from 2010, evaluate every preset on it at
    three dates (the Suining pilot in 2012, the Covid period in 2021, and --as-of), print a
    summary and one subject fully explained."""
    from rich.progress import track

    from xinyong.cli.render import render
    from xinyong.engine.explain import explain as expl
    from xinyong.pilot.study import snapshots as study_dates
    from xinyong.pilot.study import study as run_study
    from xinyong.sim.population import generate as gen

    policy = _policy(policies)
    day = _date(as_of)
    snapshots = study_dates(day)
    pop = gen(policy, seed=seed, persons=persons, enterprises=enterprises,
              start=date(2010, 1, 1), end=day)
    _write(pop, data)
    out.print(f"[bold]Population[/] (seed {seed}): {len(pop.subjects)} subjects, "
              f"{len(pop.links)} links, {len(pop.records)} records, {len(pop.events)} events "
              f"from 2010 to {day} → {data}/")
    figures = run_study(policy, pop, snapshots, lambda subjects, when: track(
        subjects, description=f"Evaluating as of {when}", console=out))
    grades, lists, measures = figures.grades, figures.lists, figures.measures
    dates = [str(d) for d in snapshots]
    t = Table("scheme", *dates, title="Ratings: subjects per grade (best grade first)")
    for sid in sorted({k[0] for k in grades}):
        cells = []
        for when in snapshots:
            counter = grades.get((sid, when))
            scheme = policy.at(when).schemes.get(sid)
            cells.append(" ".join(f"{g}:{counter.get(g, 0)}" for g in scheme.grades)
                         if counter and scheme else "—")
        t.add_row(sid, *cells)
    out.print(t)
    colours = {r.list_id: r.colour.value for r in policy.all("list_rule")}
    t = Table("list", "colour", *dates, title="Lists: subjects with an active entry")
    for lst in sorted({k[0] for k in lists}, key=lambda x: (colours.get(x, ""), x)):
        t.add_row(lst, colours.get(lst, ""), *(str(lists.get((lst, w), 0)) for w in snapshots))
    out.print(t)
    view = policy.at(day)
    t = Table("measure", "kind", "subjects", title=f"Measures in force on {day}")
    for m, n in sorted(measures.items(), key=lambda kv: -kv[1]):
        t.add_row(m, view.measures[m].kind.value if m in view.measures else "", str(n))
    out.print(t)
    if figures.example is not None:
        st = figures.example
        action = next(iter(sorted(st.by_action)), None)
        out.rule(f"One subject, fully explained: {st.subject.id}")
        out.print(render(expl(policy, st, action)), highlight=False, markup=False)
        out.print(f"\nTry: xinyong explain {st.subject.id} --as-of {day} --data {data}",
                  highlight=False)
