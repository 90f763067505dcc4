"""The simulator: synthetic populations run through the same policies as the platform."""

from xinyong.sim.parquet import read_population, write_population
from xinyong.sim.population import (
    GENERATOR_VERSION,
    AttributeTable,
    Population,
    SimAttributes,
    generate,
)

__all__ = [
    "GENERATOR_VERSION",
    "AttributeTable",
    "Population",
    "SimAttributes",
    "generate",
    "read_population",
    "write_population",
]
