"""The ledger's connection: opening (SQLite durability pragmas, Alembic migrations), the
write transaction that holds the write lock, the ledger's own DBAPI connection outside the
pool, and database errors said plainly."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from xinyong.ledger import tables as t
from xinyong.ledger.errors import LedgerError

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    import os

    return os.environ.get("XINYONG_DATABASE", "sqlite:///xinyong-data/ledger.db")


class Connected:
    """The ledger's engine and clock, how it opens, and its transactions: the base of every
    part of :class:`~xinyong.ledger.store.Ledger`."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = datetime.now):
        self.engine = engine
        self.clock = clock

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, clock: Callable[[], datetime] = datetime.now,
             migrate: bool = True) -> Self:
        url = url or default_url()
        path = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and not path.startswith((":memory:", "file:")):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_engine(url, future=True)
        except Exception as e:  # bad URL, missing driver
            raise LedgerError(f"cannot open database {url!r}: {e}") from None
        if engine.dialect.name == "sqlite":
            _sqlite_durability(engine)
        ledger = cls(engine, clock)
        if migrate:
            ledger.migrate()
        return ledger

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        for attempt in range(3):
            try:
                # one migrator at a time: a second process waits, then finds the schema at head
                with self.engine.connect().execution_options(xinyong_write=True) as conn:
                    conn.begin()
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(7262011)"))
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    conn.commit()
                return
            except (OperationalError, DBAPIError) as e:
                # another process created the same tables first: read its work and go on
                raced = any(w in str(e).lower() for w in ("already exists", "duplicate key"))
                if not raced or attempt == 2:
                    raise LedgerError(_db_message(e)) from None

    def dispose(self) -> None:
        for name in ("_probe", "_audit_writer"):
            own = self.__dict__.pop(name, None)
            if own is not None:
                own.close()
        self.engine.dispose()

    def _writing(self) -> Any:
        return _WriteTxn(self.engine)

    def _own(self, name: str, write: bool) -> _OwnConnection:
        own = self.__dict__.get(name)
        if own is None:  # setdefault is atomic: racing threads get the same one
            own = self.__dict__.setdefault(name, _OwnConnection(self.engine, write))
        return own  # type: ignore[no-any-return]


class _OwnConnection:
    """A DBAPI connection of the ledger's own, outside the pool, for the two things every
    decision request does: read the generation (autocommit reads: ~3 µs on SQLite instead of
    ~55 µs for a pooled checkout, begin and rollback) and append its audit entries (one
    transaction per group, without the pool's and the ORM layer's work per transaction).
    Durability and locking are the ledger's own: ``synchronous=FULL`` and ``BEGIN IMMEDIATE``
    on SQLite, the ledger table lock on PostgreSQL. ``conn`` is None for an in-memory
    database, which only the pool's connection sees. Shared by threads under a lock."""

    def __init__(self, engine: Engine, write: bool):
        import threading

        self.lock = threading.Lock()
        self.conn: Any = None
        self.dialect = engine.dialect
        url, name = engine.url, engine.dialect.name
        if name == "sqlite" and (url.database or ":memory:") != ":memory:" \
                and not str(url.database).startswith("file:"):
            cargs, cparams = self.dialect.create_connect_args(url)
            cparams["check_same_thread"] = False
            self.conn = self.dialect.connect(*cargs, **cparams)
            self.conn.isolation_level = None  # autocommit; transactions begun explicitly
            for pragma in ("busy_timeout=60000", "synchronous=FULL"):
                self.conn.execute(f"PRAGMA {pragma}")
        elif name == "postgresql":
            cargs, cparams = self.dialect.create_connect_args(url)
            self.conn = self.dialect.connect(*cargs, **cparams)
            self.conn.autocommit = not write

    def read(self, sql: str) -> Any:
        with self.lock:
            cur = self.conn.cursor()
            try:
                cur.execute(sql)
                return cur.fetchone()
            finally:
                cur.close()

    def append_audit(self, rows_after: Callable[[Any], list[dict[str, Any]]]) -> None:
        """One transaction under the ledger's write lock: read the last entry, append the
        rows ``rows_after(last)`` chains after it, commit."""
        sqlite = self.dialect.name == "sqlite"
        mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        at = t.audit_log.c.at.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        cols = ("seq", "at", "actor", "action", "subject", "detail", "chain_hash")
        insert_sql = (f"INSERT INTO audit_log ({', '.join(cols)}) "
                      f"VALUES ({', '.join([mark] * len(cols))})")
        with self.lock:
            cur = self.conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if sqlite
                            else "LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE")
                cur.execute("SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                rows = rows_after(cur.fetchone())
                cur.executemany(insert_sql, [
                    tuple(at(r[c]) if c == "at" and at else r[c] for c in cols) for r in rows])
                if sqlite:
                    cur.execute("COMMIT")
                else:
                    self.conn.commit()
            except self.dialect.loaded_dbapi.Error as e:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK") if sqlite else self.conn.rollback()
                raise LedgerError(f"the audit entry was not written: {e}") from None
            except BaseException:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK") if sqlite else self.conn.rollback()
                raise
            finally:
                cur.close()

    def close(self) -> None:
        if self.conn is not None:
            with self.lock:
                self.conn.close()
                self.conn = None


class _WriteTxn:
    """A write transaction holding the ledger's write lock, so entries get gap-free sequence
    numbers and one chain even with several writers (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
    table lock)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self) -> Connection:
        self.conn = self.engine.connect().execution_options(xinyong_write=True)
        self.conn.begin()
        if self.engine.dialect.name != "sqlite":
            self.conn.execute(text("LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE"))
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.conn.close()


def _sqlite_durability(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (BEGIN IMMEDIATE)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")  # first: the pragmas below may wait too
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
        cur.execute("PRAGMA foreign_keys=ON")
        # an ingest inserts into indexes in random order; the default 2 MB cache makes every
        # one of those a read. 256 MB is a ceiling, taken only as pages are touched.
        cur.execute("PRAGMA cache_size=-262144")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # a writer takes the write lock at once, so two writers queue instead of deadlocking
        immediate = conn.get_execution_options().get("xinyong_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

def _db_message(e: Exception) -> str:
    msg = str(getattr(e, "orig", e)).strip().splitlines()[0]
    low = msg.lower()
    if "readonly" in low or "read-only" in low or "attempt to write" in low:
        return ("the database is read-only; nothing was written. Check the file's permissions "
                "or open a writable copy")
    if "full" in low or "no space" in low:
        return "the disk or database is full; nothing was written. Free space and retry"
    if "append-only" in low:
        return f"refused: {msg}"
    if "unable to open" in low:
        return f"cannot open the database file ({msg}); check the path and permissions"
    return f"database error, nothing was written: {msg}"
