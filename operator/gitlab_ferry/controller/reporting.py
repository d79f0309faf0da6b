"""Reporting a pass: its Events and the object's progress metrics (controller layer).

An Event is posted when the plan changes (Terraform's plan output, once per plan) and when
the Ready condition changes; the per-object metrics follow every written status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitlab_ferry.api import ConditionStatus, ReconciledStatus
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.metrics import ObjectState
from gitlab_ferry.reconcile.plan import STALLED_REASONS, Plan, Reason
from gitlab_ferry.redact import redact_text

_WARNINGS = STALLED_REASONS | {
    Reason.THROTTLED,
    Reason.SECRET_MISSING,
    Reason.GITLAB_UNAVAILABLE,
    Reason.SOURCE_UNAVAILABLE,
    Reason.STORAGE_UNAVAILABLE,
    Reason.FINISHED_WITH_FAILED_RELATIONS,
    Reason.KUBERNETES_ERROR,
}


def report(
    runtime: Runtime,
    kind: str,
    body: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    plan: Plan,
    gitlab_status: str | None,
) -> None:
    """Post the Events this pass deserves and update the object's progress series;
    ``before`` and ``after`` are the status as stored before and after the pass."""
    old = ReconciledStatus.model_validate(before or {})
    new = ReconciledStatus.model_validate(after)
    if old.plan is None or plan.id != old.plan.id:
        message = redact_text(f"Plan {plan.id}: {plan.reason}.")
        runtime.events(body, "Normal", plan.action.name, message)
    was, ready = old.condition("Ready"), new.condition("Ready")
    reason = ready.reason if ready else ""
    if (was and (was.status, was.reason)) != (ready and (ready.status, ready.reason)):
        kind_of_event = "Warning" if reason in _WARNINGS else "Normal"
        message = redact_text(ready.message if ready else "")
        runtime.events(body, kind_of_event, reason, message)
    metadata = body.get("metadata") or {}
    namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
    stalled = new.condition("Stalled")
    runtime.metrics.objects.set(
        ObjectState(
            kind=kind,
            namespace=namespace,
            name=name,
            status=gitlab_status or "none",
            ready=ready.status.value if ready else "Unknown",
            reason=reason,
            stalled=stalled is not None and stalled.status is ConditionStatus.TRUE,
            ready_since=ready.last_transition_time.timestamp() if ready else None,
        )
    )
    runtime.metrics.reconciles.labels(kind, plan.action.name).inc()
    if not new.ready and reason_is_problem(reason):
        runtime.metrics.reconcile_errors.labels(kind, reason).inc()


def reason_is_problem(reason: str) -> bool:
    return reason in _WARNINGS and reason != Reason.THROTTLED
