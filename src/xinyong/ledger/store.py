"""The credit ledger: durable, append-only, hash-chained storage of credit facts.

Every fact (subject, identifier, link, record, record event) is written once, with a ledger
entry holding the RFC 9162 leaf hash of the fact's canonical payload (re-derived from the fact
row whenever it is needed) and a chain hash over all entries before it. Checkpoints hold the
Merkle root of the first N entries. Nothing is ever updated or deleted; the database refuses it
too.

The ledger is composed of its parts, one job each: ``connection`` (opening, transactions),
``writes`` (facts and the hash chain), ``hasher`` (the forked hasher), ``audit`` (the audit
log and its writer thread), ``proofs`` (checkpoints, verify, proofs), ``reads`` (subjects,
identifiers, neighbourhoods, due-process facts); ``payloads`` and ``rows`` hold canonical
payloads and the mapping between rows and the model.
"""

from __future__ import annotations

from xinyong.ledger.connection import MIGRATIONS, default_url
from xinyong.ledger.errors import AlreadyIngested, Conflict, LedgerError
from xinyong.ledger.proofs import VerifyReport
from xinyong.ledger.reads import Reader
from xinyong.ledger.writes import Batch, Writer, WriteResult

__all__ = ["MIGRATIONS", "AlreadyIngested", "Batch", "Conflict", "Ledger", "LedgerError",
           "VerifyReport", "WriteResult", "default_url"]


class Ledger(Reader, Writer):
    """The store. ``Ledger.open(url)`` creates or upgrades the schema (Alembic). Standings are
    computed from it by the standings room (``xinyong.standings``), which reads it as a
    ``Source``."""
