"""The ``xinyong`` command line. Commands are thin: parse, call the core, print.

Exit codes (all commands) are :class:`ExitCode`; a script can tell every outcome apart, and
nothing that failed or waits for a person exits 0.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from xinyong.policy.loader import PolicyError
from xinyong.policy.model import Policy
from xinyong.policy.schema import Profile


class ExitCode(IntEnum):
    """What a command's exit status means, the same for every command."""

    OK = 0
    """Done; for ``decide``: allowed."""
    NEGATIVE = 1
    """A negative answer: denied, lint errors found, the ledger or a proof does not verify."""
    BAD_INPUT = 2
    """Refused, nothing done: bad input or usage, a busy port or store, a database error."""
    CONDITIONS = 3
    """``decide``: allowed with conditions (the conditions are printed)."""
    WAITS = 4
    """Waits for a person: ``decide`` refers to a reviewer; ``ingest`` queued rows for review."""


EXIT_CODES = ("Exit codes: 0 done (decide: allowed); 1 negative (denied, lint errors, does "
              "not verify); 2 refused: bad input, busy port or store, database error; 3 "
              "allowed with conditions; 4 waits for a person (referred to a reviewer, rows "
              "queued for review).")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="xinyong (信用): credit records, ratings, red and black lists and joint reward and "
    "punishment, explainable down to the source record.\n\n" + EXIT_CODES,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _print_version(value: bool) -> None:
    if value:
        from xinyong import __version__

        out.print(f"xinyong {__version__}", highlight=False)
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
    )] = False,
) -> None:
    pass

DEFAULT_DATA = Path("xinyong-data")
T = TypeVar("T")

PoliciesOpt = Annotated[
    Path | None,
    typer.Option("--policies", help="Policy folder (default: $XINYONG_POLICIES or ./policies)"),
]
DataOpt = Annotated[
    Path, typer.Option("--data", help="Population folder written by `xinyong generate`")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date to evaluate on, YYYY-MM-DD (default: today)")
]
KnownAtOpt = Annotated[
    str | None,
    typer.Option("--known-at", help="Transaction time: only what was recorded by then "
                 "(YYYY-MM-DDTHH:MM; default: end of the as-of day)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text")]
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Read from the ledger at this URL (sqlite:///PATH or "
                 "postgresql://…) instead of a --data folder"),
]
LedgerOpt = Annotated[
    str | None,
    typer.Option("--database", help="Ledger URL (default: $XINYONG_DATABASE or "
                 "sqlite:///xinyong-data/ledger.db)"),
]


def fail(message: str, code: int = ExitCode.BAD_INPUT) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Turn known errors into clear messages and exit code 2, never a stack trace."""
    from xinyong.dataset import UnknownSubject
    from xinyong.engine import UnknownAction

    try:
        return fn()
    except PolicyError as e:
        err.print(f"[bold red]error:[/] {len(e.problems)} problem(s) in the policy:",
                  highlight=False)
        for p in e.problems:
            err.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except (UnknownSubject, UnknownAction, FileNotFoundError) as e:
        fail(str(e).strip("'\""))


def _policy(path: Path | None) -> Policy:
    from xinyong.files import load_policy

    return guarded(lambda: load_policy(path))


def _date(text: str | None, option: str = "--as-of") -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not a date; write YYYY-MM-DD, e.g. 2024-03-01")


def _datetime(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--known-at {text!r} is not a date-time; write YYYY-MM-DDTHH:MM")
    if value.tzinfo is not None:
        fail(f"--known-at {text!r} has a time zone; write China Standard Time without an offset")
    return value


def _dataset(data: Path, policy: Policy) -> Any:
    from xinyong.checks import check_population
    from xinyong.dataset import Dataset
    from xinyong.sim.parquet import read_population

    if not (data / "subjects.parquet").exists():
        fail(f"no population at {data}; run `xinyong generate --seed 0 --out {data}` first")
    try:
        pop = read_population(data)
    except (OSError, ValueError, KeyError) as e:
        fail(f"the population at {data} cannot be read ({e}); regenerate it with "
             f"`xinyong generate --out {data}`")
    problems = check_population(policy, pop.subjects, pop.links, pop.records, pop.events)
    if problems:
        err.print(f"[bold red]error:[/] {len(problems)} bad row(s) in {data}; nothing was "
                  "evaluated:", highlight=False)
        for p in problems:
            err.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(ExitCode.BAD_INPUT)
    return Dataset(pop.subjects, pop.links, pop.records, pop.events)


def _resolve(ds: Any, policy: Policy, key: str) -> Any:
    return guarded(lambda: ds.resolve(key, policy.exceptions))


def _ledger(url: str | None, must_exist: bool = False) -> Any:
    from xinyong.ledger.store import Ledger, LedgerError, default_url

    url = url or default_url()
    if must_exist and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            fail(f"no ledger at {path}; ingest a file first (`xinyong ingest`)")
    try:
        return Ledger.open(url)
    except LedgerError as e:
        fail(str(e))


def _standing(policy: Policy, key: str, as_of: str | None, known_at: str | None, data: Path,
              database: str | None, why: str) -> Any:
    day, known = _date(as_of), _datetime(known_at)
    if database is None:
        ds = _dataset(data, policy)
        return ds.standing(policy, _resolve(ds, policy, key), day, known)
    ledger = _ledger(database, must_exist=True)
    s = guarded(lambda: ledger.resolve(key, policy))
    standing = ledger.standing(policy, s, day, known)
    import getpass

    # every read of personal data is logged: who, what, when, why
    ledger.audit(f"cli:{getpass.getuser()}", why, s.id,
                 {"as_of": day.isoformat(), "known_at": known.isoformat() if known else None})
    return standing


def _write(pop: Any, directory: Path) -> dict[str, Path]:
    from xinyong.sim.parquet import write_population

    try:
        return write_population(pop, directory)
    except OSError as e:
        fail(f"cannot write the population to {directory}: {e.strerror or e}")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command(epilog="Exit codes: 0 written.")
def schema(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to a file")] = None,
) -> None:
    """Print the JSON Schema of a policy TOML file, for editors to validate against."""
    from xinyong.policy.schema import PolicyFile

    text = json.dumps(PolicyFile.model_json_schema(), indent=2, ensure_ascii=False)
    if out_file:
        try:
            out_file.write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            fail(f"cannot write {out_file}: {e.strerror}")
        out.print(f"wrote {out_file}")
    else:
        sys.stdout.write(text + "\n")


@app.command(
    epilog="Exit codes: 0 no errors (warnings allowed); 1 errors found; 2 the policy does "
    "not load or a path is outside it."
)
def lint(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Preset folders or files to report on (default: all)")] = None,
    profile: Annotated[Profile | None, typer.Option(
        "--profile", help="Check against this profile instead of each preset's own")] = None,
    policies: PoliciesOpt = None,
) -> None:
    """Check policies for legality: cn-2021, eu-ai-act or historical (warnings only).

    Every finding names the file, the rule, the reason and where the rule comes from.
    Exit 1 if any finding is an error, 2 if the policy does not load.
    """
    from xinyong.files import default_policy_dir
    from xinyong.policy.lint import lint as run_lint

    root = policies or default_policy_dir()
    policy = _policy(root)
    files = None
    if paths:
        base = root.resolve().parent
        files = []
        for p in paths:
            if not p.exists():
                fail(f"{p} does not exist")
            try:
                files.append(p.resolve().relative_to(base).as_posix())
            except ValueError:
                fail(f"{p} is not inside the policy folder {root}")
    findings = run_lint(policy, profile, files)
    errors = sum(f.severity == "error" for f in findings)
    for f in findings:
        style = "red" if f.severity == "error" else "yellow"
        out.print(f"[{style}]{f.severity}[/] {f.file}{':' + str(f.line) if f.line else ''} "
                  f"[bold]{f.rule}[/] {f.obj}: {f.reason}\n    rule from: {f.source}",
                  highlight=False)
    used = profile.value if profile else "each preset's own"
    out.print(f"{len(findings)} finding(s), {errors} error(s) under profile {used}")
    raise typer.Exit(ExitCode.NEGATIVE if errors else ExitCode.OK)


@app.command(epilog="Exit codes: 0 written; 2 the policy does not load.")
def generate(
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data")] = 0,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write Parquet to")
    ] = DEFAULT_DATA,
    persons: Annotated[int, typer.Option(min=1, help="Number of persons")] = 2000,
    enterprises: Annotated[int, typer.Option(min=1, help="Number of enterprises")] = 400,
    policies: PoliciesOpt = None,
) -> None:
    """Generate a deterministic synthetic population (persons, firms, public bodies, links,
    records across the catalog, events) and write it as Parquet."""
    from xinyong.sim.population import generate as gen

    policy = _policy(policies)
    pop = gen(policy, seed=seed, persons=persons, enterprises=enterprises)
    paths = _write(pop, out_dir)
    out.print(f"{len(pop.subjects)} subjects, {len(pop.links)} links, {len(pop.records)} "
              f"records, {len(pop.events)} events → {out_dir}")
    for name, p in paths.items():
        out.print(f"  {name}: {p}")


@app.command(
    epilog="Exit codes: 0 evaluated; 2 bad input (unknown subject, invalid identifier or "
    "date, missing data, policy does not load)."
)
def evaluate(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier (USCC / RIC)")],
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    as_json: JsonOpt = False,
    public: Annotated[bool, typer.Option(
        "--public", help="Only what the public portal shows (implies --json)")] = False,
    data: DataOpt = DEFAULT_DATA,
    database: DatabaseOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """A subject's standing: ratings, list entries and measures in force, explained (the
    subject's own full file), or with --public only what the public sees."""
    from xinyong.engine.explain import explain as expl
    from xinyong.engine.explain import public_view, render

    policy = _policy(policies)
    standing = _standing(policy, subject, as_of, known_at, data, database, "evaluate")
    if public:
        _print_json(public_view(policy, standing))
        return
    body = expl(policy, standing)
    if as_json:
        _print_json(body)
    else:
        out.print(render(body), highlight=False, markup=False)


@app.command(
    epilog="Exit codes: 0 allow; 1 deny; 2 bad input (unknown subject or action, invalid "
    "identifier or date, missing data); 3 allow with conditions; 4 refer to a reviewer (a "
    "significant measure waits for a person's confirmation: do not proceed yet)."
)
def decide(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier")],
    action: Annotated[str, typer.Argument(help="Action id, e.g. transport.air.ticket")],
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    as_json: JsonOpt = False,
    data: DataOpt = DEFAULT_DATA,
    database: DatabaseOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """May SUBJECT do ACTION on the date? Exit 0 allow, 1 deny, 3 allow with conditions,
    4 refer to a reviewer."""
    from xinyong.engine import decide as run_decide
    from xinyong.engine.explain import decision_data

    policy = _policy(policies)
    standing = _standing(policy, subject, as_of, known_at, data, database, "decide")
    s = standing.subject
    d = guarded(lambda: run_decide(standing, action))
    body = decision_data(policy, standing, d)
    if as_json:
        _print_json(body)
    else:
        from xinyong.engine.explain import _render_reasons

        out.print(f"{s.name} ({s.id}) {action} on {d.on}: {d.effect.value.upper()}",
                  highlight=False)
        out.print("\n".join(_render_reasons(body["reasons"])) or "  no measure applies",
                  highlight=False, markup=False)
    raise typer.Exit(EFFECT_EXIT[d.effect.value])


EFFECT_EXIT = {"allow": ExitCode.OK, "deny": ExitCode.NEGATIVE,
               "allow_with_conditions": ExitCode.CONDITIONS,
               "refer_to_reviewer": ExitCode.WAITS}
"""Each decision effect's exit code: a gate script proceeds only on 0."""


@app.command(
    epilog="Exit codes: 0 explained; 2 bad input (unknown subject or action, invalid "
    "identifier or date, missing data)."
)
def explain(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier")],
    action: Annotated[str | None, typer.Option("--action", help="Also decide this action")] = None,
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    as_json: JsonOpt = False,
    data: DataOpt = DEFAULT_DATA,
    database: DatabaseOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """The full chain for a subject: measure ← clause ← memorandum ← list entry ← records ←
    legal basis, and how each restriction can be lifted."""
    from xinyong.engine.explain import explain as expl
    from xinyong.engine.explain import render

    policy = _policy(policies)
    standing = _standing(policy, subject, as_of, known_at, data, database, "explain")
    body = guarded(lambda: expl(policy, standing, action))
    if as_json:
        _print_json(body)
    else:
        out.print(render(body), highlight=False, markup=False)


@app.command(epilog="Exit codes: 0 printed; 2 the policy does not load.")
def presets(policies: PoliciesOpt = None) -> None:
    """Describe every preset: profile, sources, what is illustrative, what it defines
    (Markdown; docs/presets.md is this output)."""
    from xinyong.policy.catalogue import presets_markdown

    sys.stdout.write(presets_markdown(_policy(policies)))


@app.command(epilog="Exit codes: 0 printed; 2 the policy does not load.")
def actions(policies: PoliciesOpt = None) -> None:
    """List the actions a decision can be asked about."""
    policy = _policy(policies)
    width = max((len(a) for a in policy.actions), default=0)
    for a in sorted(policy.actions.values(), key=lambda a: a.id):
        out.print(f"{a.id:<{width}}  {a.context:<14}  {a.title}", highlight=False,
                  markup=False)


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

    from xinyong.dataset import Dataset
    from xinyong.engine.explain import explain as expl
    from xinyong.engine.explain import render
    from xinyong.sim.population import generate as gen

    policy = _policy(policies)
    day = _date(as_of)
    snapshots = [d for d in (date(2012, 6, 30), date(2021, 6, 30)) if d < day] + [day]
    pop = gen(policy, seed=seed, persons=persons, enterprises=enterprises,
              start=date(2010, 1, 1), end=day)
    _write(pop, data)
    out.print(f"[bold]Population[/] (seed {seed}): {len(pop.subjects)} subjects, "
              f"{len(pop.links)} links, {len(pop.records)} records, {len(pop.events)} events "
              f"from 2010 to {day} → {data}/")
    ds = Dataset(pop.subjects, pop.links, pop.records, pop.events)
    grades: dict[tuple[str, date], Counter[str]] = {}
    lists: dict[tuple[str, date], int] = Counter()
    measures: Counter[str] = Counter()
    best: tuple[int, Any] = (-1, None)
    for when in snapshots:
        for s in track(pop.subjects, description=f"Evaluating as of {when}", console=out):
            st = ds.standing(policy, s, when)
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
    if best[1] is not None:
        st = best[1]
        action = next(iter(sorted(st.by_action)), None)
        out.rule(f"One subject, fully explained: {st.subject.id}")
        out.print(render(expl(policy, st, action)), highlight=False, markup=False)
        out.print(f"\nTry: xinyong explain {st.subject.id} --as-of {day} --data {data}",
                  highlight=False)


@app.command(
    epilog="Exit codes: 0 written (or already ingested); 2 refused: bad rows (all listed), "
    "columns not matching the manifest, unreadable file or database, nothing written; 4 "
    "written, but rows without a valid identifier wait in the review queue for a person."
)
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, JSON Lines or Parquet file")],
    agency: Annotated[str, typer.Option("--agency", help="Submitting agency id")],
    feed: Annotated[str | None, typer.Option(
        "--feed", help="The agency's feed manifest, when it has several (default: the one "
        "the file's columns fit)")] = None,
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Ingest an agency's file into the ledger: every row validated against the agency's feed
    manifest and the catalog, and carrying a channel the feed declares; the file is written
    whole or not at all; resubmitting adds nothing; an identifier's scheme is told by its
    structure; rows without a valid identifier always go to the review queue (exit 4), where a
    person links them."""
    from xinyong.ledger.ingest import Ingest, IngestError
    from xinyong.ledger.store import LedgerError

    policy = _policy(policies)
    ledger = _ledger(database)
    try:
        report = Ingest(ledger, policy, agency, file, feed).run()
    except IngestError as e:
        err.print("[bold red]error:[/] ", end="")
        err.print(str(e), highlight=False, markup=False)
        for row in e.errors:
            err.print(f"  {row}", highlight=False, markup=False)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except LedgerError as e:
        fail(str(e))
    if report.already_ingested:
        out.print(f"{file}: already ingested ({report.rows} rows); nothing new written",
                  highlight=False)
        return
    out.print(f"{file}: {report.rows} rows via feed {report.feed}: {report.written} records "
              f"written, {report.already_recorded} already recorded, {report.new_subjects} new "
              f"subjects, {report.queued_for_review} queued for review (no identifier: a "
              f"person links them, `xinyong review list`)", highlight=False)
    if report.queued_for_review:
        raise typer.Exit(ExitCode.WAITS)


@app.command(epilog="Exit codes: 0 the ledger verifies; 1 a problem was found (named); 2 the "
             "database cannot be opened.")
def verify(database: LedgerOpt = None) -> None:
    """Check the whole ledger: every entry against its fact row, leaf hashes, the hash chain,
    the sequence, every checkpoint and the audit log. Names the first altered, removed,
    reordered or unledgered entry."""
    report = _ledger(database, must_exist=True).verify()
    if report.ok:
        out.print(f"ok: {report.entries} ledger entries, {report.checkpoints} checkpoints, "
                  f"{report.audit_entries} audit entries verified", highlight=False)
        return
    err.print(f"[bold red]FAILED:[/] {report.problem}", highlight=False)
    raise typer.Exit(ExitCode.NEGATIVE)


@app.command(epilog="Exit codes: 0 a checkpoint was taken or none was needed; 2 database error.")
def checkpoint(database: LedgerOpt = None) -> None:
    """Take a Merkle checkpoint (RFC 9162 root) of the ledger as it stands."""
    cp = _ledger(database, must_exist=True).checkpoint()
    if cp is None:
        out.print("no new entries since the last checkpoint")
    else:
        out.print(f"checkpoint: size {cp['size']}, root {cp['root']}", highlight=False)


@app.command(epilog="Exit codes: 0 proof printed; 2 no such record, or no checkpoint covers it.")
def prove(
    record: Annotated[str, typer.Argument(help="Record id")],
    database: LedgerOpt = None,
) -> None:
    """Print an RFC 9162 inclusion proof of a record against a checkpoint (JSON). Anyone can
    check it with `xinyong check-proof` or any RFC 9162 implementation."""
    from xinyong.ledger.store import LedgerError

    ledger = _ledger(database, must_exist=True)
    try:
        proof = ledger.prove(record)
    except LedgerError as e:
        fail(str(e))
    _print_json(proof)


@app.command("check-proof", epilog="Exit codes: 0 the proof holds; 1 it does not; 2 unreadable.")
def check_proof(
    file: Annotated[Path, typer.Argument(help="A proof printed by `xinyong prove`")],
    root: Annotated[str | None, typer.Option(help="Expected checkpoint root (hex), "
                                             "e.g. as published")] = None,
) -> None:
    """Check an inclusion proof offline: the payload hashes to the leaf, and the leaf with the
    audit path gives the checkpoint root. Needs no database."""
    from xinyong import merkle

    try:
        p = json.loads(file.read_text(encoding="utf-8"))
        leaf = merkle.leaf_hash(p["payload"].encode())
        ok = leaf.hex() == p["leaf_hash"] and merkle.verify_inclusion(
            p["leaf_index"], p["tree_size"], leaf, [bytes.fromhex(h) for h in p["proof"]],
            bytes.fromhex(root or p["root"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{file} is not a readable proof: {e}")
    if ok:
        out.print(f"ok: record {p['record']} is entry {p['leaf_index']} of the tree of size "
                  f"{p['tree_size']} with root {root or p['root']}", highlight=False)
        return
    err.print("[bold red]FAILED:[/] the proof does not lead to the root", highlight=False)
    raise typer.Exit(ExitCode.NEGATIVE)


review_app = typer.Typer(help="The identity review queue: rows without a valid identifier, "
                         "with candidates ranked. A person links or rejects each.")
app.add_typer(review_app, name="review")


@review_app.command("list", epilog="Exit codes: 0 listed; 2 database error.")
def review_list(database: LedgerOpt = None) -> None:
    """List open review items with their candidates."""
    from xinyong.ledger.ingest import open_reviews

    items = open_reviews(_ledger(database, must_exist=True))
    for i in items:
        cands = "; ".join(f"{c['subject']} {c.get('name', '')} ({c.get('why', c['score'])})"
                          for c in i.candidates) or "none"
        out.print(f"#{i.id} {i.agency} line {i.line}: {i.name!r} in {i.region}; "
                  f"candidates: {cands}", highlight=False, markup=False)
    out.print(f"{len(items)} open item(s)")


@review_app.command("link", epilog="Exit codes: 0 linked; 2 no such item or subject.")
def review_link(
    item: Annotated[int, typer.Argument(help="Review item number")],
    subject: Annotated[str, typer.Argument(help="Subject id to link the row to")],
    reviewer: Annotated[str, typer.Option(help="Who decides")] = "",
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Link a queued row to a subject: its record is written now, with the reviewer named."""
    _review(item, subject, reviewer, "", database, policies)


@review_app.command("reject", epilog="Exit codes: 0 rejected; 2 no such item.")
def review_reject(
    item: Annotated[int, typer.Argument(help="Review item number")],
    reason: Annotated[str, typer.Option(help="Why the row is rejected")],
    reviewer: Annotated[str, typer.Option(help="Who decides")] = "",
    database: LedgerOpt = None,
    policies: PoliciesOpt = None,
) -> None:
    """Reject a queued row: nothing is recorded; the decision is logged."""
    _review(item, None, reviewer, reason, database, policies)


def _review(item: int, subject: str | None, reviewer: str, reason: str,
            database: str | None, policies: Path | None) -> None:
    import getpass

    from xinyong.ledger.ingest import decide_review
    from xinyong.ledger.store import LedgerError

    policy = _policy(policies)
    ledger = _ledger(database, must_exist=True)
    try:
        msg = decide_review(ledger, policy, item, reviewer or f"cli:{getpass.getuser()}",
                            subject, reason)
    except LedgerError as e:
        fail(str(e))
    out.print(msg, highlight=False)


# the due-process and service commands register themselves on ``app``
from xinyong import cli_process, cli_service  # noqa: E402, F401


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
