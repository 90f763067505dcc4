"""The batch evaluator's compiler: a policy, as loaded, compiled into one relational plan
(SQLGlot expressions) that rates a whole population. Pure: it builds the plan, the outer
``xinyong.batch`` room runs it."""

from xinyong.engine.batch.points import Plan, Unsupported, compile_points

__all__ = ["Plan", "Unsupported", "compile_points"]
