"""The engines a plan runs on: DuckDB (embedded, the default) and Spark (local or a cluster).

Both take the same SQLGlot expressions and emit them in their own dialect; nothing here
writes SQL by hand. An engine registers the inputs as views (Parquet files, or a query over
literal rows), returns the first row of a check, and writes one query's rows to one Parquet
file. A resource limit hit (memory, disk) becomes :class:`EngineLimit`, naming the limit and
how to raise it."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import sqlglot.expressions as exp

ENGINES = ("duckdb", "spark")


class EngineLimit(RuntimeError):
    """The run hit a resource limit (memory, temporary disk): the message says which and how
    to raise it. Nothing was written."""


class Engine(Protocol):
    name: str
    dialect: str

    def register_parquet(self, name: str, location: Path, hive: bool) -> None:
        """View ``name`` over a Parquet file or a folder of them (read lazily)."""

    def register_query(self, name: str, query: exp.Expr) -> None:
        """View ``name`` over a query (of other views or literal rows)."""

    def first_row(self, query: exp.Expr) -> dict[str, Any] | None: ...

    def to_arrow(self, query: exp.Expr) -> pa.Table: ...

    def write_parquet(self, query: exp.Expr, path: Path) -> int:
        """Write the query's rows, in its order, to one Parquet file; the number of rows."""

    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the engine."""


def default_memory_limit() -> str:
    """Half the machine's memory: room for the Python process, the OS and the page cache."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2GB"
    return f"{max(total // 2 // 2**20, 256)}MB"


@dataclass
class DuckDBEngine:
    """DuckDB in this process, with a memory limit and a temporary folder to spill to."""

    memory_limit: str = field(default_factory=default_memory_limit)
    temp_dir: Path | None = None
    threads: int | None = None
    name: str = "duckdb"
    dialect: str = "duckdb"
    con: Any = None

    def __post_init__(self) -> None:
        import duckdb

        config: dict[str, Any] = {"memory_limit": self.memory_limit,
                                  "preserve_insertion_order": False}
        if self.temp_dir is not None:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(self.temp_dir)
        if self.threads:
            config["threads"] = self.threads
        try:
            self.con = duckdb.connect(config=config)
        except duckdb.Error as e:
            raise EngineLimit(f"DuckDB cannot start with --memory-limit {self.memory_limit!r}"
                              f" ({_first_line(e)}); give a size like 4GB") from None

    def guard(self, fn: Any) -> Any:
        """``fn()``, a memory or disk limit hit said plainly (:class:`EngineLimit`)."""
        import duckdb

        try:
            return fn()
        except duckdb.OutOfMemoryException as e:
            raise EngineLimit(
                f"DuckDB ran out of memory under --memory-limit {self.memory_limit} "
                f"({_first_line(e)}); raise --memory-limit (e.g. --memory-limit 8GB) or give "
                "--temp-dir a folder on a disk with room to spill to; nothing was written"
            ) from None
        except duckdb.IOException as e:
            text = str(e).lower()
            if "no space" in text or "disk" in text or "temp" in text:
                where = self.temp_dir or "the default temporary folder"
                raise EngineLimit(
                    f"DuckDB could not spill to {where} ({_first_line(e)}); free space there "
                    "or give --temp-dir a folder on a disk with room; nothing was written"
                ) from None
            raise

    def register_parquet(self, name: str, location: Path, hive: bool) -> None:
        glob = str(location / "**" / "*.parquet") if location.is_dir() else str(location)
        self.guard(lambda: self.con.read_parquet(glob, hive_partitioning=hive).create_view(
            name, replace=True))

    def register_query(self, name: str, query: exp.Expr) -> None:
        self.guard(lambda: self.con.sql(query.sql(dialect="duckdb")).create_view(
            name, replace=True))

    def first_row(self, query: exp.Expr) -> dict[str, Any] | None:
        def go() -> dict[str, Any] | None:
            rel = self.con.sql(query.sql(dialect="duckdb")).limit(1)
            rows = rel.fetchall()
            return dict(zip(rel.columns, rows[0], strict=True)) if rows else None

        result: dict[str, Any] | None = self.guard(go)
        return result

    def to_arrow(self, query: exp.Expr) -> pa.Table:
        return self.guard(lambda: self.con.sql(query.sql(dialect="duckdb")).to_arrow_table())

    def write_parquet(self, query: exp.Expr, path: Path) -> int:
        self.guard(lambda: self.con.sql(query.sql(dialect="duckdb")).write_parquet(
            str(path), compression="zstd"))
        rows: int = pq.ParquetFile(path).metadata.num_rows
        return rows

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def describe(self) -> dict[str, Any]:
        import duckdb

        return {"name": "duckdb", "version": duckdb.__version__,
                "memory_limit": self.memory_limit,
                "temp_dir": str(self.temp_dir) if self.temp_dir else None}


def spark_session(master: str = "local[2]", shuffle_partitions: int = 4,
                  temp_dir: Path | None = None) -> Any:
    """A Spark session for batch runs: the session time zone UTC (dates and the naive
    timestamps of the inputs are read and compared as written, never shifted), ANSI SQL,
    few shuffle partitions (the plan's joins are over one population), no UI."""
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName("xinyong-rate")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.sql.ansi.enabled", "true")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false"))
    if temp_dir is not None:
        builder = builder.config("spark.local.dir", str(temp_dir))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@dataclass
class SparkEngine:
    """PySpark: ``local[N]`` in this machine's JVM, or a cluster at ``--spark-master``. A
    session handed in (the tests share one) is left running; one made here is stopped."""

    master: str = "local[2]"
    session: Any = None
    temp_dir: Path | None = None
    name: str = "spark"
    dialect: str = "spark"
    _own: bool = False

    def __post_init__(self) -> None:
        if self.session is None:
            from pyspark.sql import SparkSession

            self.session = SparkSession.getActiveSession()  # one running here: left running
        if self.session is None:
            if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
                raise EngineLimit("--engine spark needs Java 17 (no `java` on PATH and no "
                                  "JAVA_HOME); install openjdk-17-jre-headless or use "
                                  "--engine duckdb")
            self.session = spark_session(self.master, temp_dir=self.temp_dir)
            self._own = True

    def guard(self, fn: Any) -> Any:
        try:
            return fn()
        except Exception as e:
            text = str(e)
            if "OutOfMemoryError" in text or "No space left" in text:
                raise EngineLimit(
                    f"Spark ran out of memory or disk ({_first_line(e)}); give the driver and "
                    "executors more memory (spark.driver.memory, spark.executor.memory) or "
                    "spark.local.dir more room; nothing was written") from None
            raise

    def register_parquet(self, name: str, location: Path, hive: bool) -> None:
        reader = self.session.read
        if location.is_dir():
            reader = reader.option("basePath", str(location))
            if not hive:
                reader = reader.option("recursiveFileLookup", "true")
        reader.parquet(str(location)).createOrReplaceTempView(name)

    def register_query(self, name: str, query: exp.Expr) -> None:
        self.guard(lambda: self.session.sql(query.sql(dialect="spark"))
                  .createOrReplaceTempView(name))

    def first_row(self, query: exp.Expr) -> dict[str, Any] | None:
        rows = self.guard(lambda: self.session.sql(query.sql(dialect="spark")).take(1))
        return rows[0].asDict() if rows else None

    def to_arrow(self, query: exp.Expr) -> pa.Table:
        return self.guard(lambda: self.session.sql(query.sql(dialect="spark")).toArrow())

    def write_parquet(self, query: exp.Expr, path: Path) -> int:
        # Spark writes a folder of part files; one partition in query order makes one file,
        # moved to ``path`` so both engines leave the same layout
        work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            df = self.session.sql(query.sql(dialect="spark")).coalesce(1)
            self.guard(lambda: df.write.mode("overwrite").option("compression", "zstd")
                      .parquet(str(work / "parts")))
            parts = sorted((work / "parts").glob("part-*.parquet"))
            if len(parts) == 1:
                parts[0].rename(path)
            else:  # an empty result may come without a part file; write its schema
                tables = [pq.read_table(p) for p in parts]
                table = pa.concat_tables(tables) if tables else df.limit(0).toArrow()
                pq.write_table(table, path, compression="zstd")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows: int = pq.ParquetFile(path).metadata.num_rows
        return rows

    def close(self) -> None:
        if self._own and self.session is not None:
            self.session.stop()
        self.session = None

    def describe(self) -> dict[str, Any]:
        import pyspark

        return {"name": "spark", "version": pyspark.__version__,
                "master": self.session.sparkContext.master if self.session else self.master}


def make_engine(name: str, *, memory_limit: str | None = None, temp_dir: Path | None = None,
                spark_master: str | None = None, session: Any = None) -> Engine:
    if name == "duckdb":
        return DuckDBEngine(memory_limit or default_memory_limit(), temp_dir)
    if name == "spark":
        return SparkEngine(spark_master or "local[2]", session, temp_dir)
    raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
