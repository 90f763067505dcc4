"""What the platform keeps beside the facts: its users (a token's SHA-256, never the token)
and the policy versions loaded through the service. Writes go through a
:class:`~xinyong.ledger.transaction.Transaction`, so each carries its audit entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from xinyong.ledger import tables as t
from xinyong.ledger.connection import Connected
from xinyong.ledger.errors import LedgerError

# --- users ---------------------------------------------------------------------------------


def add_user(conn: Connection, row: dict[str, Any]) -> None:
    """Insert a user (id, role, subject, agency, token_sha256, created_at, created_by) in a
    write transaction; refused if the id is taken."""
    if conn.execute(select(t.users.c.id).where(t.users.c.id == row["id"])).first():
        raise LedgerError(f"user {row['id']!r} exists already")
    conn.execute(insert(t.users), [row])


def user_by_token(ledger: Connected, digest: str) -> Any:
    """The user whose token has this SHA-256 (hex), or None."""
    with ledger.engine.connect() as conn:
        return conn.execute(select(t.users).where(t.users.c.token_sha256 == digest)).first()


# --- policy versions -----------------------------------------------------------------------


def add_policy_version(conn: Connection, row: dict[str, Any]) -> str:
    """Store a version (digest, files, lint, errors, loaded_at, loaded_by) in a write
    transaction (which serialises the numbering); its id, PV-000001 and on."""
    n = conn.execute(select(func.count()).select_from(t.policy_versions)).scalar_one()
    vid = f"PV-{n + 1:06d}"
    conn.execute(insert(t.policy_versions), [{"id": vid, **row}])
    return vid


def activate_policy_version(conn: Connection, version: str, at: datetime, by: str) -> None:
    conn.execute(update(t.policy_versions).where(t.policy_versions.c.id == version)
                 .values(activated_at=at, activated_by=by))


def policy_version(ledger: Connected, version: str) -> Any:
    """A stored version's row, or None."""
    with ledger.engine.connect() as conn:
        return conn.execute(select(t.policy_versions)
                            .where(t.policy_versions.c.id == version)).first()


def policy_versions(ledger: Connected) -> list[Any]:
    """Every stored version (without its files), oldest first."""
    with ledger.engine.connect() as conn:
        return list(conn.execute(select(
            t.policy_versions.c.id, t.policy_versions.c.digest, t.policy_versions.c.errors,
            t.policy_versions.c.lint, t.policy_versions.c.loaded_at,
            t.policy_versions.c.loaded_by, t.policy_versions.c.activated_at,
            t.policy_versions.c.activated_by).order_by(t.policy_versions.c.id)).all())


def active_policy_version(ledger: Connected) -> tuple[str, dict[str, str]] | None:
    """The version last activated through the service: (id, files), or None."""
    with ledger.engine.connect() as conn:
        row = conn.execute(select(t.policy_versions.c.id, t.policy_versions.c.files)
                           .where(t.policy_versions.c.activated_at.is_not(None))
                           .order_by(t.policy_versions.c.activated_at.desc(),
                                     t.policy_versions.c.id.desc())).first()
    return None if row is None else (row.id, dict(row.files))
