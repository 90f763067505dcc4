"""``decide(standing, action)``: may the subject do this? Forbid overrides permit."""

from __future__ import annotations

from xinyong.model import AppliedMeasure, Decision, Effect, Reason, Standing, list_key, record_key

# (kind, effect, pending_review) of a measure that sends the decision to a reviewer
_REVIEW = frozenset((k, e, True) for k in ("restrict", "notice") for e in ("deny", "condition"))


class UnknownAction(ValueError):
    def __init__(self, action: str, known: frozenset[str]):
        self.action = action
        close = sorted(k for k in known if k.split(".")[0] == action.split(".")[0])[:8]
        hint = f"; did you mean one of: {', '.join(close)}" if close else ""
        super().__init__(f"unknown action {action!r}{hint} (`xinyong actions` lists them)")


def decide(standing: Standing, action: str) -> Decision:
    """The decision on ``action`` with every reason; restrictions override rewards.

    Effect: ``deny`` if any measure not pending review denies; else ``refer_to_reviewer``
    if a denying or conditioning measure is pending review (significant and unconfirmed:
    the enforcer waits for a person, nothing is denied automatically); else
    ``allow_with_conditions`` if any attaches a condition; else ``allow`` (rewards then
    listed as benefits). ``measures`` are the deciding ones: pending measures count only
    for ``refer_to_reviewer``, though every reason is listed. The order of measures never
    matters.
    """
    if action not in standing.actions:
        raise UnknownAction(action, standing.actions)
    applied = standing.by_action.get(action, ())
    effects = {(m.kind, m.effect, m.pending_review) for m in applied}
    if ("restrict", "deny", False) in effects:
        effect = Effect.DENY
    elif not effects.isdisjoint(_REVIEW):
        effect = Effect.REVIEW
    elif ("restrict", "condition", False) in effects or ("notice", "condition", False) in effects:
        effect = Effect.CONDITIONS
    else:
        effect = Effect.ALLOW
    overridden = effect is not Effect.ALLOW
    reasons = tuple(reason(standing, m, overridden and m.kind == "reward") for m in applied)
    review = effect is Effect.REVIEW
    deciding = tuple(dict.fromkeys(r.measure for r in reasons
                                   if not r.overridden and (review or not r.pending_review)))
    return Decision(standing.subject.id, action, standing.as_of, effect, deciding, reasons)


def reason(standing: Standing, am: AppliedMeasure, overridden: bool = False) -> Reason:
    """The full reason for one applied measure: clause, memorandum, entry, records, law, lift,
    and the disputed items it rests on."""
    e = am.entry
    disputed = _disputed(standing.disputed, am) if standing.disputed else ()
    # positional: this runs once per reason on every decision
    return Reason(am.measure, am.kind, am.effect, am.clause, am.memorandum,
                  am.memorandum_number, am.applied_by, e.list, e.start, e.end or e.planned_end,
                  e.records, am.legal_basis, am.lift, am.via, am.listed_subject, overridden,
                  disputed, am.pending_review)


def _disputed(keys: frozenset[str], am: AppliedMeasure) -> tuple[str, ...]:
    e = am.entry
    found = [k for k in map(record_key, e.records) if k in keys]
    entry = list_key(e.subject, e.list)  # e.subject is the listed subject
    if entry in keys:
        found.append(entry)
    return tuple(sorted(found))
