"""The batch evaluator's compiler: a policy, as loaded, compiled into one relational plan
(SQLGlot expressions) that rates a whole population. Pure: it builds the plan, the outer
``xinyong.batch`` room runs it."""

from xinyong.engine.batch.compile import compile_plan, compile_points
from xinyong.engine.batch.plan import OUTPUTS, Plan
from xinyong.engine.batch.sql import Unsupported

__all__ = ["OUTPUTS", "Plan", "Unsupported", "compile_plan", "compile_points"]
