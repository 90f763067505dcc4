"""The ledger's tables (SQLAlchemy Core). Migrations in ``migrations/`` create them.

Facts (subjects, identifiers, links, records, record events), the hash-chained ``ledger``,
``checkpoints`` and the ``audit_log`` are append-only: the store has no update or delete for
them and the database refuses both (triggers). Derived tables (list entries, notices, the
review queue) are working state.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

APPEND_ONLY = ("subjects", "identifiers", "links", "records", "record_events", "ledger",
               "checkpoints", "audit_log", "ingests")

subjects = Table(
    "subjects", metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("name", Text, nullable=False),
    Column("region", String(6), nullable=False),
    Column("registered", Date),
    Column("opt_ins", JSON, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)

identifiers = Table(
    "identifiers", metadata,
    Column("scheme", String(12), primary_key=True),
    Column("value", String(40), primary_key=True),
    Column("subject", String(40), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("recorded_at", DateTime, nullable=False),
)

links = Table(
    "links", metadata,
    Column("id", String(80), primary_key=True),
    Column("organisation", String(40), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("party", String(40), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("role", String(40), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date),
    Column("recorded_at", DateTime, nullable=False),
)

records = Table(
    "records", metadata,
    Column("id", String(80), primary_key=True),
    Column("subject", String(40), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("category", String(120), nullable=False),
    Column("agency", String(120), nullable=False),
    Column("act_date", Date, nullable=False),
    Column("effective", Date, nullable=False),
    Column("document_no", Text, nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("amounts", JSON, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("ingest", String(64)),
    # how the record reached the platform (model.Channel); rows written before migration 0006
    # read "unrecorded", which the ledger payload leaves out, so their hashes still hold
    Column("channel", String(20), nullable=False, server_default="unrecorded"),
)

record_events = Table(
    "record_events", metadata,
    Column("id", String(80), primary_key=True),
    Column("record", String(80), ForeignKey("records.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("effective", Date, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("note", Text, nullable=False),
    Column("amounts", JSON, nullable=False),
    Column("ingest", String(64)),
)

ledger = Table(
    "ledger", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(20), nullable=False),
    Column("ref", String(160), nullable=False),
    Column("leaf_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    UniqueConstraint("kind", "ref", name="uq_ledger_kind_ref"),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("frontier", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(40)),
    Column("detail", Text, nullable=False),
    Column("chain_hash", String(64), nullable=False),
)

ingests = Table(
    "ingests", metadata,
    Column("id", String(64), primary_key=True),
    Column("agency", String(120), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False, index=True),
    Column("rows", Integer, nullable=False),
    Column("written", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
)

review_queue = Table(
    "review_queue", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ingest", String(64), nullable=False, index=True),
    Column("agency", String(120), nullable=False),
    Column("feed", String(120)),  # the feed manifest the row came under (None before 0006)
    Column("line", Integer, nullable=False),
    Column("row", JSON, nullable=False),
    Column("name", Text, nullable=False),
    Column("region", String(6), nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(12), nullable=False, default="open"),
    Column("decided_by", String(120)),
    Column("decided_at", DateTime),
    Column("decision", JSON),
    Index("ix_review_status", "status"),
)

list_entries = Table(
    "list_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("list", String(120), nullable=False, index=True),
    Column("rule", String(120), nullable=False),
    Column("subject", String(40), nullable=False, index=True),
    Column("start", Date, nullable=False),
    Column("end", Date),
    Column("status", String(12), nullable=False),
    Column("records", JSON, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    Column("as_of", Date, nullable=False),
)

notices = Table(
    "notices", metadata,
    Column("id", String(120), primary_key=True),
    Column("kind", String(20), nullable=False),  # listing | correction
    Column("recipient", String(160), nullable=False, index=True),  # subject:ID | agency:ID
    Column("subject", String(40), nullable=False, index=True),
    Column("list", String(120), nullable=False),
    Column("entry", String(200), nullable=False),
    Column("records", JSON, nullable=False),
    Column("served", Date, nullable=False),
    Column("grace_ends", Date),
    Column("legal_basis", JSON, nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

cases = Table(
    "cases", metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),  # objection | repair | review
    Column("subject", String(40), nullable=False, index=True),
    Column("target", String(200), nullable=False),
    Column("filed_by", String(160), nullable=False),
    Column("filed_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("deadline", Date),
    Column("detail", JSON, nullable=False),
)

case_events = Table(
    "case_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case", String(40), ForeignKey("cases.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("actor", String(160), nullable=False),
    Column("note", Text, nullable=False),
    Column("detail", JSON, nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", String(80), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("subject", String(40)),
    Column("agency", String(120)),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(160), nullable=False),
)

policy_versions = Table(
    "policy_versions", metadata,
    Column("id", String(20), primary_key=True),  # PV-000001
    Column("digest", String(64), nullable=False),
    Column("files", JSON, nullable=False),  # {path: TOML text}: the whole version
    Column("lint", JSON, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("loaded_at", DateTime, nullable=False),
    Column("loaded_by", String(160), nullable=False),
    Column("activated_at", DateTime),
    Column("activated_by", String(160)),
)

jobs = Table(
    "jobs", metadata,
    Column("id", String(20), primary_key=True),  # JOB-000001
    Column("kind", String(40), nullable=False),  # policies.impact
    Column("params", JSON, nullable=False),  # what was asked: {version, on, ...}
    # queued | running | done | failed | cancelled | interrupted
    Column("state", String(12), nullable=False),
    Column("done", Integer, nullable=False),  # progress: items done of total
    Column("total", Integer),  # None until the job has counted its work
    Column("result", JSON),  # the job's document once done
    Column("reason", Text),  # why it failed, was cancelled or interrupted
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(160), nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("cancel_requested_by", String(160)),
    Index("ix_jobs_state", "state"),
)
"""Long work the service runs in its worker (the admin impact analysis): working state, so a
job and its result outlive the process, and one running when the process stopped is marked
interrupted at the next start."""
