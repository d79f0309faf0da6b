"""What every kind's planner does first, and how it makes a plan (reconcile layer).

A pass is blocked by a problem met while observing, held by ``spec.suspend``, or stopped by a
refusal GitLab gave earlier and would give again; only then does the kind decide. Pure: no
I/O, time is ``now``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from gitlab_ferry.api import ReconciledStatus
from gitlab_ferry.reconcile import refusals
from gitlab_ferry.reconcile.plan import (
    Action,
    Blocked,
    Plan,
    Problem,
    Reason,
    ReportRefusal,
    Suspend,
    Verdict,
)
from gitlab_ferry.reconcile.timing import Polling


class Planner:
    """The part of planning both kinds share. Subclasses set ``kind`` and ``request`` (the
    request a refusal refers to) and decide in ``plan_body``."""

    kind: ClassVar[str]
    request: ClassVar[str]

    def __init__(
        self,
        *,
        generation: int | None,
        recorded: ReconciledStatus,
        problem: Problem | None,
        retry_request: str | None,
        suspend: bool,
        now: datetime,
        polling: Polling,
        recheck: float,
    ) -> None:
        self.generation = generation
        self.recorded = recorded
        self.problem = problem
        self.retry_request = retry_request
        self.suspend = suspend
        self.now = now
        self.polling = polling
        self.recheck = recheck

    def plan(self) -> Plan:
        if self.problem is not None:
            return self.blocked(self.problem)
        if self.suspend:
            return self.make(
                Suspend(),
                "spec.suspend is true, so nothing is sent to GitLab",
                Verdict(False, Reason.SUSPENDED, "Suspended by spec.suspend."),
            )
        refusal = refusals.standing(self.recorded.refusal, self.generation, self.retry_request)
        if refusal is not None:
            return self.make(
                ReportRefusal(),
                refusals.explain(self.request),
                refusals.verdict(refusal),
                inputs=(refusal.reason, refusal.at),
            )
        return self.plan_body()

    def plan_body(self) -> Plan:
        """The plan once problems, suspension and refusals are ruled out."""
        raise NotImplementedError

    def blocked(self, problem: Problem) -> Plan:
        return self.make(
            Blocked(),
            f"cannot proceed: {problem.message}",
            Verdict(False, problem.reason, problem.message),
            requeue_after=problem.retry_after
            or (self.polling.maximum if problem.transient else self.recheck),
            inputs=(problem.reason,),
        )

    def make(
        self,
        action: Action,
        reason: str,
        verdict: Verdict,
        *,
        requeue_after: float | None = None,
        inputs: tuple[object, ...] = (),
    ) -> Plan:
        return Plan(
            kind=self.kind,
            action=action,
            reason=reason,
            verdict=verdict,
            requeue_after=requeue_after,
            inputs=inputs,
        )
