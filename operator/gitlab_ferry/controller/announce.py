"""Events and progress metrics after a pass (controller layer).

An Event is posted when the plan changes (Terraform's plan output, once per plan) and when
the Ready condition changes; the per-object metrics follow every written status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.metrics import ObjectState
from gitlab_ferry.reconcile.plan import STALLED_REASONS, Plan, Reason
from gitlab_ferry.reconcile.timing import parse_time
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


def _condition(status: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any]:
    for condition in (status or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def ready_of(status: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _condition(status, "Ready")


def _epoch(timestamp: object) -> float | None:
    moment = parse_time(timestamp) if isinstance(timestamp, str) else None
    return moment.timestamp() if moment else None


def announce(
    runtime: Runtime,
    kind: str,
    body: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    plan: Plan,
    gitlab_status: str | None,
) -> None:
    """Post the Events this pass deserves and update the object's progress series."""
    previous_plan = ((before or {}).get("plan") or {}).get("id")
    if plan.id != previous_plan:
        runtime.events(body, "Normal", plan.action, redact_text(f"Plan {plan.id}: {plan.reason}."))
    old, new = ready_of(before), ready_of(after)
    if (old.get("status"), old.get("reason")) != (new.get("status"), new.get("reason")):
        reason = str(new.get("reason", ""))
        kind_of_event = "Warning" if reason in _WARNINGS else "Normal"
        runtime.events(body, kind_of_event, reason, redact_text(str(new.get("message", ""))))
    metadata = body.get("metadata") or {}
    namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
    runtime.metrics.objects.set(
        ObjectState(
            kind=kind,
            namespace=namespace,
            name=name,
            status=gitlab_status or "none",
            ready=str(new.get("status", "Unknown")),
            reason=str(new.get("reason", "")),
            stalled=_condition(after, "Stalled").get("status") == "True",
            ready_since=_epoch(new.get("lastTransitionTime")),
        )
    )
    runtime.metrics.reconciles.labels(kind, plan.action).inc()
    reason = str(new.get("reason") or "")
    if new.get("status") != "True" and reason_is_problem(reason):
        runtime.metrics.reconcile_errors.labels(kind, reason).inc()


def reason_is_problem(reason: str) -> bool:
    return reason in _WARNINGS and reason != Reason.THROTTLED
