"""The batch evaluator's runner: a compiled plan (``xinyong.engine.batch``) executed on an
engine (DuckDB embedded, or Spark local or on a cluster) over a source (a population folder,
a partitioned Parquet dataset, or one snapshot of the ledger), written as Parquet with a
manifest. See ``docs/batch.md``."""

from xinyong.batch.engines import ENGINES, DuckDBEngine, Engine, EngineLimit, SparkEngine
from xinyong.batch.run import OutExists, RefusedPopulation, Run, rate, run_plan
from xinyong.batch.sources import BadSource, Inputs, open_folder
from xinyong.batch.validate import InvalidPopulation, validate

__all__ = ["ENGINES", "BadSource", "DuckDBEngine", "Engine", "EngineLimit", "Inputs",
           "InvalidPopulation", "OutExists", "RefusedPopulation", "Run", "SparkEngine",
           "open_folder", "rate", "run_plan", "validate"]
