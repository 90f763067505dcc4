"""Evaluation (per subject), decisions and explanations. Pure: no IO."""

from xinyong.engine.decide import UnknownAction, decide
from xinyong.engine.evaluate import evaluate

__all__ = ["UnknownAction", "decide", "evaluate"]
