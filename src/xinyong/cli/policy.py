"""Policy commands: schema, lint, presets, actions (`xinyong policy …`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from xinyong.cli.common import ExitCode, PoliciesOpt, _policy, fail, out
from xinyong.policy.schema import Profile

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The policy: its JSON Schema, lint, the presets and the actions.")


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
