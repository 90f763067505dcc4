"""One batch run from start to end, as ``xinyong rate`` asks for it: the plan compiled for the
outputs and schemes chosen, the source opened (a folder, or the ledger exported in one
snapshot), the population validated, the plan run on the engine, the outputs written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from xinyong.batch.engines import Engine, make_engine
from xinyong.batch.run import Progress, Run, ledger_inputs, run_plan
from xinyong.batch.sources import open_folder
from xinyong.batch.validate import validate
from xinyong.engine.batch import OUTPUTS, Plan, Unsupported, compile_plan
from xinyong.policy.model import Policy


@dataclass
class Job:
    policy: Policy
    as_of: date
    out: Path
    data: Path | None = None
    database: str | None = None
    known_at: datetime | None = None
    engine: str = "duckdb"
    spark_master: str | None = None
    memory_limit: str | None = None
    temp_dir: Path | None = None
    schemes: Sequence[str] | None = None
    presets: Sequence[str] | None = None
    outputs: Sequence[str] | None = None
    """None: every output the plan compiles (those it cannot are named in the manifest)."""
    overwrite: bool = False
    session: Any = None
    """A Spark session to run in (tests share one); otherwise one is started and stopped."""


def _selection(policy: Policy, as_of: date, presets: Sequence[str] | None,
               schemes: Sequence[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """The schemes and lists to rate: those named, or those the presets declare."""
    if not presets:
        return (list(schemes) if schemes else None), None
    unknown = [p for p in presets if p not in policy.presets]
    if unknown:
        raise Unsupported(f"--presets {unknown[0]!r}: no such preset; presets: "
                          f"{', '.join(sorted(policy.presets))}")
    view = policy.at(as_of)
    chosen = [i for i, s in sorted(view.schemes.items())
              if policy.preset_of("scheme", s) in presets]
    lists = sorted({r.list_id for r in view.list_rules.values()
                    if policy.preset_of("list_rule", r) in presets})
    return chosen, lists


def compile_job(job: Job) -> Plan:
    """One plan of every output asked for (default: all); a construct the compiler cannot
    express refuses the job, naming its file and key."""
    schemes, lists = _selection(job.policy, job.as_of, job.presets, job.schemes)
    known = job.known_at or datetime.combine(job.as_of, time.max)
    wanted = tuple(job.outputs) if job.outputs else OUTPUTS
    # the ledger keeps due process: its confirmations decide which measures wait for a person
    return compile_plan(job.policy, job.as_of, known_at=known, schemes=schemes, lists=lists,
                        outputs=wanted, due_process=job.database is not None)


def execute(job: Job, progress: Progress | None = None,
            note: Callable[[str], None] | None = None) -> Run:
    """Run the job; raises the refusals (``Unsupported``, ``BadSource``,
    ``InvalidPopulation``, ``RefusedPopulation``, ``OutExists``, ``EngineLimit``)."""
    from xinyong.batch.engines import default_memory_limit
    from xinyong.batch.run import OutExists

    if job.out.exists() and not job.overwrite:
        raise OutExists(f"--out {job.out} exists; give a new folder or --overwrite "
                        "(nothing was written)")
    plan = compile_job(job)
    memory = job.memory_limit or default_memory_limit()
    say = note or (lambda _m: None)
    with ExitStack() as stack:
        if job.database is not None:
            say("exporting one snapshot of the ledger")
            inputs = stack.enter_context(ledger_inputs(
                job.database, plan.known_at, job.temp_dir,
                lambda t: progress("export " + t, 0, 1) if progress else None))
        elif job.data is not None:
            inputs = open_folder(job.data)
        else:
            raise ValueError("give --data DIR or --database URL")
        say("validating the population")
        validate(job.policy, inputs, memory, job.temp_dir)
        engine: Engine = make_engine(job.engine, memory_limit=memory, temp_dir=job.temp_dir,
                                     spark_master=job.spark_master, session=job.session)
        stack.callback(engine.close)
        return run_plan(plan, inputs, engine, job.out, overwrite=job.overwrite,
                        progress=progress)
    raise AssertionError("unreachable")  # pragma: no cover
