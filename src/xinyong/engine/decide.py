"""``decide(standing, action)``: may the subject do this? Forbid overrides permit."""

from __future__ import annotations

from dataclasses import replace

from xinyong.model import Decision, Effect, Standing


class UnknownAction(ValueError):
    def __init__(self, action: str, known: frozenset[str]):
        self.action = action
        close = sorted(k for k in known if k.split(".")[0] == action.split(".")[0])[:8]
        hint = f"; did you mean one of: {', '.join(close)}" if close else ""
        super().__init__(f"unknown action {action!r}{hint} (`xinyong actions` lists them)")


def decide(standing: Standing, action: str) -> Decision:
    """The decision on ``action`` with every reason; restrictions override rewards.

    Effect: ``deny`` if any measure denies; else ``allow_with_conditions`` if any
    attaches a condition; else ``allow`` (rewards then listed as benefits). The
    order of measures never matters.
    """
    if action not in standing.actions:
        raise UnknownAction(action, standing.actions)
    reasons = standing.reasons_by_action.get(action, ())
    effects = {(r.kind, r.effect) for r in reasons}
    if ("restrict", "deny") in effects:
        effect = Effect.DENY
    elif ("restrict", "condition") in effects or ("notice", "condition") in effects:
        effect = Effect.CONDITIONS
    else:
        effect = Effect.ALLOW
    if effect is not Effect.ALLOW and any(r.kind == "reward" for r in reasons):
        reasons = tuple(replace(r, overridden=True) if r.kind == "reward" else r for r in reasons)
    deciding = tuple(dict.fromkeys(r.measure for r in reasons if not r.overridden))
    return Decision(standing.subject.id, action, standing.as_of, effect, deciding, reasons)
