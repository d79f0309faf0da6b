"""The ProjectImport status after a reconcile pass (reconcile layer).

``begin`` is the record written before a non-idempotent request reaches GitLab, so a restart
knows a request may be in flight; ``record_import`` folds the observation, plan and outcome
into the new status, copying GitLab's fields verbatim. Pure: the caller writes the result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gitlab_ferry.api import ProjectImportStatus
from gitlab_ferry.api.base import PlanPhase
from gitlab_ferry.api.project_import import FailedRelation, RelationImport
from gitlab_ferry.reconcile import refusals
from gitlab_ferry.reconcile.conditions import (
    applying_record,
    conditions,
    plan_record,
    verdict_of,
)
from gitlab_ferry.reconcile.import_inputs import landing_mismatch
from gitlab_ferry.reconcile.import_observation import ImportObservation, TrackerInfo
from gitlab_ferry.reconcile.import_planner import ImportAction
from gitlab_ferry.reconcile.plan import Done, Outcome, Plan, Reason, Verdict
from gitlab_ferry.reconcile.timing import parse_time, rfc3339


def begin(recorded: ProjectImportStatus, plan: Plan, now: datetime) -> ProjectImportStatus:
    """The status to write before ``plan`` (a mutating action) is sent to GitLab."""
    status = recorded.model_copy(deep=True)
    status.plan = applying_record(plan, now)
    if plan.action == ImportAction.IMPORT:
        status.started_at = rfc3339(now)
        status.finished_at = None
        status.attempts = int(plan.params.get("attempt", status.attempts + 1))
        status.project_id = None
        status.import_status = None
        status.import_error = None
        status.failed_relations = []
        status.correlation_id = None
        status.stats = None
        status.source_sha256 = None
        status.source_size = None
        status.failure_generation = None
        status.replaced_project_id = plan.params.get("replaces")
        status.route = plan.params.get("route")
        status.import_type = None
    elif plan.action == ImportAction.IMPORT_RELATION:
        status.attempts += 1
        status.started_at = status.started_at or rfc3339(now)
        status.finished_at = None
        status.failure_generation = None
    return status


def _copy_import_fields(status: ProjectImportStatus, body: dict[str, Any]) -> None:
    """GitLab's ProjectImportStatus fields, verbatim."""
    if "id" in body:
        status.project_id = body["id"]
    if body.get("path_with_namespace"):
        status.path_with_namespace = body["path_with_namespace"]
    status.import_status = body.get("import_status", status.import_status)
    status.import_type = body.get("import_type", status.import_type)
    status.import_error = body.get("import_error")
    status.correlation_id = body.get("correlation_id", status.correlation_id)
    status.failed_relations = [
        FailedRelation.model_validate(item) for item in body.get("failed_relations") or []
    ]
    status.stats = body.get("stats")


def _tracker_status(tracker: TrackerInfo, generation: int | None) -> RelationImport:
    return RelationImport(
        id=tracker.id,
        relation=tracker.relation,
        status=tracker.status,
        project_path=tracker.project_path,
        created_at=tracker.created_at,
        updated_at=tracker.updated_at,
        requested_generation=generation,
    )


def _concluded(status: ProjectImportStatus) -> bool:
    started, finished = parse_time(status.started_at), parse_time(status.finished_at)
    return finished is not None and (started is None or finished >= started)


def record_import(
    generation: int | None,
    relations: bool,
    recorded: ProjectImportStatus,
    observed: ImportObservation,
    plan: Plan,
    outcome: Outcome | None,
    now: datetime,
) -> ProjectImportStatus:
    """The status after a pass that observed ``observed`` and applied ``plan``.

    ``relations`` says the object re-imports relations into an existing project.
    """
    status = recorded.model_copy(deep=True)
    tracked = observed.tracked
    if observed.problem is None and tracked is not None and tracked.project_id == status.project_id:
        _copy_import_fields(
            status,
            {
                "id": tracked.project_id,
                "path_with_namespace": tracked.path_with_namespace,
                "import_status": tracked.import_status,
                "import_type": tracked.import_type,
                "import_error": tracked.import_error,
                "correlation_id": tracked.correlation_id,
                "failed_relations": list(tracked.failed_relations),
                "stats": tracked.stats,
            },
        )
    if plan.action == ImportAction.ADOPT:
        status.project_id = plan.params["project_id"]
        status.path_with_namespace = plan.params["path_with_namespace"]
        requested = recorded.plan is not None and (
            recorded.plan.action == ImportAction.IMPORT
            and recorded.plan.phase == PlanPhase.APPLYING
        )
        if not requested or status.started_at is None:
            # An import found under way is timed from when it was found; one this object
            # requested before a restart, from its request.
            status.started_at = rfc3339(now)
        status.finished_at = None
    elif plan.action == ImportAction.IMPORT and isinstance(outcome, Done):
        _copy_import_fields(status, outcome.data.get("import", {}))
        status.source_sha256 = outcome.data.get("sha256", status.source_sha256)
        status.source_size = outcome.data.get("size", status.source_size)
    elif plan.action == ImportAction.IMPORT_RELATION and isinstance(outcome, Done):
        tracker = outcome.data["tracker"]
        status.relation_imports.append(_tracker_status(tracker, generation))
    elif plan.action == ImportAction.ADOPT_RELATION:
        status.relation_imports.append(_tracker_status(plan.params["tracker"], generation))
    if relations and observed.at_path is not None:
        # Relations go into a project this object did not create; show which one.
        status.project_id = observed.at_path.id
        status.path_with_namespace = observed.at_path.path_with_namespace
    by_id = {tracker.id: tracker for tracker in observed.trackers}
    status.relation_imports = [
        _tracker_status(by_id[item.id], item.requested_generation) if item.id in by_id else item
        for item in status.relation_imports
    ]
    if plan.action in (ImportAction.UP_TO_DATE, ImportAction.REPORT_FAILURE):
        if not _concluded(status):
            status.finished_at = rfc3339(now)
        if plan.action == ImportAction.REPORT_FAILURE:
            status.failure_generation = generation
    verdict = verdict_of(plan, outcome)
    if (
        plan.action == ImportAction.IMPORT
        and isinstance(outcome, Done)
        and status.path_with_namespace
        and landing_mismatch(observed.full_path, status.path_with_namespace, in_flight=True)
    ):
        verdict = Verdict(
            False,
            Reason.WRONG_NAMESPACE,
            f"GitLab accepted the import at {status.path_with_namespace}, not at "
            f"{observed.full_path}.",
        )
    if observed.gitlab.version is not None:
        status.gitlab_version = str(observed.gitlab.version)
    status.refusal = refusals.recorded(
        plan, outcome, recorded.refusal, generation, observed.retry_request, now
    )
    status.plan = plan_record(plan, outcome, recorded.plan, now)
    status.conditions = conditions(verdict, recorded.conditions, generation, now)
    status.observed_generation = generation
    return status
