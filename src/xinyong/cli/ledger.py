"""Ledger commands: ingest, verify, checkpoint, prove, check-proof, review
(`xinyong ledger …`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from xinyong.cli.common import (
    ExitCode,
    LedgerOpt,
    PoliciesOpt,
    _ledger,
    _policy,
    _print_json,
    err,
    fail,
    out,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The ledger: ingest agencies' files, verify it, checkpoints and "
                  "inclusion proofs, the identity review queue.")


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
    from xinyong.ledger.review import open_reviews

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

    from xinyong.ledger.review import decide_review
    from xinyong.ledger.store import LedgerError

    policy = _policy(policies)
    ledger = _ledger(database, must_exist=True)
    try:
        msg = decide_review(ledger, policy, item, reviewer or f"cli:{getpass.getuser()}",
                            subject, reason)
    except LedgerError as e:
        fail(str(e))
    out.print(msg, highlight=False)
