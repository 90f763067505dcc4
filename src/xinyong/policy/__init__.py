"""The policy language: schema, loading with precise errors, and lint profiles."""

from xinyong.policy.loader import PolicyError, Problem, build
from xinyong.policy.model import Policy, PolicyView

__all__ = ["Policy", "PolicyError", "PolicyView", "Problem", "build"]
