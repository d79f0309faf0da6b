"""Conditions and plan records computed from a plan and its outcome (reconcile layer).

Ready is always present; Reconciling and Stalled follow the kstatus convention of being
present only while true. Transition times change only when a condition's status does. Pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from gitlab_ferry.api import Condition, ConditionStatus, PlanPhase, PlanStatus, ReconciledStatus
from gitlab_ferry.reconcile.plan import (
    Blocked,
    Done,
    Failed,
    Outcome,
    Plan,
    Reason,
    Throttled,
    Verdict,
)


def verdict_of(plan: Plan, outcome: Outcome | None) -> Verdict:
    """What Ready says once ``plan`` was applied with ``outcome``."""
    if isinstance(outcome, Throttled):
        source = "GitLab answered 429" if outcome.from_gitlab else "the rate-limit budget is spent"
        return Verdict(
            False,
            Reason.THROTTLED,
            f"Waiting {outcome.seconds:.0f}s: {source} for {outcome.bucket}.",
        )
    if isinstance(outcome, Failed):
        return Verdict(False, outcome.problem.reason, outcome.problem.message)
    return plan.verdict


def conditions(
    verdict: Verdict, previous: list[Condition], generation: int | None, now: datetime
) -> list[Condition]:
    """The Ready, Reconciling and Stalled conditions for ``verdict``."""
    by_type = {condition.type: condition for condition in previous}
    wanted = [("Ready", verdict.ready)]
    if verdict.stalled:
        wanted.append(("Stalled", True))
    elif not verdict.ready and verdict.reason is not Reason.SUSPENDED:
        wanted.append(("Reconciling", True))
    result = []
    for kind, truth in wanted:
        status = ConditionStatus.TRUE if truth else ConditionStatus.FALSE
        old = by_type.get(kind)
        changed = old is None or old.status != status
        result.append(
            Condition(
                type=kind,
                status=status,
                reason=verdict.reason.value,
                message=verdict.message,
                last_transition_time=now if changed or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )
    return result


def plan_record(
    plan: Plan, outcome: Outcome | None, previous: PlanStatus | None, now: datetime
) -> PlanStatus:
    """``status.plan`` after applying ``plan`` (or deciding not to)."""
    if plan.awaiting_approval:
        phase = PlanPhase.AWAITING_APPROVAL
    elif isinstance(outcome, Done):
        phase = PlanPhase.APPLIED
    else:
        phase = PlanPhase.PLANNED
    same = previous is not None and previous.id == plan.id and previous.phase == phase
    return PlanStatus(
        id=plan.id,
        action=plan.action.name,
        reason=plan.reason,
        phase=phase,
        destructive=plan.destructive,
        since=previous.since if same and previous is not None else now,
    )


def applying_record(plan: Plan, now: datetime) -> PlanStatus:
    """``status.plan`` written before a mutating plan is applied."""
    return PlanStatus(
        id=plan.id,
        action=plan.action.name,
        reason=plan.reason,
        phase=PlanPhase.APPLYING,
        destructive=plan.destructive,
        since=now,
    )


def invalid_spec_plan(kind: str, message: str) -> Plan:
    """The plan for a spec the models refuse: nothing to do until it is fixed."""
    return Plan(
        kind=kind,
        action=Blocked(),
        reason=f"the spec is invalid: {message}",
        verdict=Verdict(False, Reason.INVALID_SPEC, message),
        inputs=(message,),
    )


Status = TypeVar("Status", bound=ReconciledStatus)


def recorded_verdict(
    recorded: Status,
    plan: Plan,
    outcome: Outcome | None,
    generation: int | None,
    now: datetime,
) -> Status:
    """``recorded`` with only the plan and the conditions it leads to: the status of a pass
    that changed nothing else (an invalid spec, a deletion waiting or failing)."""
    status = recorded.model_copy(deep=True)
    status.plan = plan_record(plan, outcome, recorded.plan, now)
    status.conditions = conditions(verdict_of(plan, outcome), recorded.conditions, generation, now)
    status.observed_generation = generation
    return status
