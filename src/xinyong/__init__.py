"""xinyong (信用): an open, explainable implementation of the social credit system of systems."""

__version__ = "0.1.0"
