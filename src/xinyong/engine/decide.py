"""``decide(standing, action)``: may the subject do this? Forbid overrides permit."""

from __future__ import annotations

from xinyong.model import AppliedMeasure, Decision, Effect, Reason, Standing


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
    applied = standing.by_action.get(action, ())
    effects = {(m.kind, m.effect) for m in applied}
    if ("restrict", "deny") in effects:
        effect = Effect.DENY
    elif ("restrict", "condition") in effects or ("notice", "condition") in effects:
        effect = Effect.CONDITIONS
    else:
        effect = Effect.ALLOW
    overridden = effect is not Effect.ALLOW
    reasons = tuple(reason(standing, m, overridden and m.kind == "reward") for m in applied)
    deciding = tuple(dict.fromkeys(r.measure for r in reasons if not r.overridden))
    return Decision(standing.subject.id, action, standing.as_of, effect, deciding, reasons)


def reason(standing: Standing, am: AppliedMeasure, overridden: bool = False) -> Reason:
    """The full reason for one applied measure: clause, memorandum, entry, records, law, lift."""
    e = am.entry
    # positional: this runs once per reason on every decision
    return Reason(am.measure, am.kind, am.effect, am.clause, am.memorandum,
                  am.memorandum_number, am.applied_by, e.list, e.start, e.end or e.planned_end,
                  e.records, am.legal_basis, am.lift, am.via, am.listed_subject, overridden)
