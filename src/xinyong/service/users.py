"""Users and tokens. A token is shown once, when it is made; the store keeps its SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from xinyong.ledger.platform import user_by_token
from xinyong.ledger.store import Ledger, LedgerError

ROLES = ("public", "subject", "submitter", "enforcer", "reviewer", "admin")
"""public: anyone, no token; subject: a person or firm reading its own file; submitter: an
agency sending records; enforcer: an agency asking for decisions (airlines, railways, …);
reviewer: decides objections, repairs and human reviews; admin: policies and impact."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(ledger: Ledger, user_id: str, role: str, *, subject: str | None = None,
             agency: str | None = None, by: str = "admin") -> str:
    """Create a user and return its token (the only time it is shown)."""
    if role not in ROLES or role == "public":
        raise LedgerError(f"unknown role {role!r}; use one of {', '.join(ROLES[1:])}")
    if role == "subject" and not subject:
        raise LedgerError("a subject user needs --subject (the subject it acts for)")
    if role in ("submitter", "enforcer") and not agency:
        raise LedgerError(f"a {role} needs --agency (the agency it acts for)")
    token = f"xy_{secrets.token_urlsafe(24)}"
    with ledger.transaction(by, "users.add", subject,
                            {"user": user_id, "role": role, "agency": agency}) as tx:
        tx.add_user({
            "id": user_id, "role": role, "subject": subject, "agency": agency,
            "token_sha256": _digest(token), "created_at": ledger.clock(), "created_by": by})
    return token


def authenticate(ledger: Ledger, token: str) -> tuple[str, str, str | None, str | None] | None:
    """(user id, role, subject, agency) for a valid token, else None.

    Users are only ever added (never changed or removed), so a token once found is kept in
    memory: the lookup runs on every request. Unknown tokens are looked up every time."""
    digest = _digest(token)
    known: dict[str, tuple[str, str, str | None, str | None]] = ledger.__dict__.setdefault(
        "_tokens", {})
    found = known.get(digest)
    if found is not None:
        return found
    row = user_by_token(ledger, digest)
    if row is None:
        return None
    known[digest] = (row.id, row.role, row.subject, row.agency)
    return known[digest]
