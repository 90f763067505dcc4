"""The batch evaluator's runner: a compiled plan (``xinyong.engine.batch``) executed on
DuckDB over a population folder (Parquet, as ``xinyong sim generate`` writes it)."""

from xinyong.batch.run import RefusedPopulation, rate

__all__ = ["RefusedPopulation", "rate"]
