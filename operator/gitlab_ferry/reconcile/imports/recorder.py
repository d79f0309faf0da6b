"""The ProjectImport status after a reconcile pass (reconcile layer).

``begin_import`` is the record written before a non-idempotent request reaches GitLab, so a
restart knows a request may be in flight; ``record_import`` folds the observation, plan and
outcome into the new status, copying GitLab's fields verbatim. Pure: the caller writes the
result.
"""

from __future__ import annotations

from datetime import datetime

from gitlab_ferry.api import PlanPhase, ProjectImportStatus
from gitlab_ferry.api.project_import import FailedRelation, RelationImport
from gitlab_ferry.reconcile import refusals
from gitlab_ferry.reconcile.conditions import (
    applying_record,
    conditions,
    plan_record,
    verdict_of,
)
from gitlab_ferry.reconcile.imports.actions import (
    AdoptImport,
    AdoptRelationImport,
    ImportAccepted,
    ImportProject,
    ImportRelation,
)
from gitlab_ferry.reconcile.imports.inputs import landing_mismatch
from gitlab_ferry.reconcile.imports.observation import ImportInfo, ImportObservation, TrackerInfo
from gitlab_ferry.reconcile.plan import (
    Done,
    Outcome,
    Plan,
    Reason,
    ReportFailure,
    UpToDate,
    Verdict,
)


def begin_import(recorded: ProjectImportStatus, plan: Plan, now: datetime) -> ProjectImportStatus:
    """The status to write before ``plan`` (a mutating action) is sent to GitLab."""
    status = recorded.model_copy(deep=True)
    status.plan = applying_record(plan, now)
    match plan.action:
        case ImportProject() as request:
            status.started_at = now
            status.finished_at = None
            status.attempts = request.attempt
            status.project_id = None
            status.import_status = None
            status.import_type = None
            status.import_error = None
            status.failed_relations = []
            status.correlation_id = None
            status.stats = None
            status.source_sha256 = None
            status.source_size = None
            status.failure_generation = None
            status.replaced_project_id = request.replaces
            status.route = request.route.value
        case ImportRelation():
            status.attempts += 1
            status.started_at = status.started_at or now
            status.finished_at = None
            status.failure_generation = None
    return status


def _copy_import_fields(status: ProjectImportStatus, info: ImportInfo) -> None:
    """GitLab's ProjectImportStatus fields, verbatim."""
    status.project_id = info.project_id
    status.path_with_namespace = info.path_with_namespace or status.path_with_namespace
    status.import_status = info.import_status
    status.import_type = info.import_type
    status.import_error = info.import_error
    status.correlation_id = info.correlation_id or status.correlation_id
    status.failed_relations = [FailedRelation.model_validate(f) for f in info.failed_relations]
    status.stats = info.stats


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
    started, finished = status.started_at, status.finished_at
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
        _copy_import_fields(status, tracked)
    verdict = verdict_of(plan, outcome)
    match plan.action, outcome:
        case AdoptImport() as adopted, _:
            status.project_id = adopted.project_id
            status.path_with_namespace = adopted.path_with_namespace
            requested = recorded.plan is not None and (
                recorded.plan.action == ImportProject.__name__
                and recorded.plan.phase == PlanPhase.APPLYING
            )
            if not requested or status.started_at is None:
                # An import found under way is timed from when it was found; one this object
                # requested before a restart, from its request.
                status.started_at = now
            status.finished_at = None
        case ImportProject(), Done(value=ImportAccepted() as accepted):
            _copy_import_fields(status, accepted.info)
            status.source_sha256 = accepted.sha256 or status.source_sha256
            status.source_size = accepted.size or status.source_size
            landed = accepted.info.path_with_namespace
            if landing_mismatch(observed.full_path, landed, in_flight=True):
                verdict = Verdict(
                    False,
                    Reason.WRONG_NAMESPACE,
                    f"GitLab accepted the import at {landed}, not at {observed.full_path}.",
                )
        case ImportRelation(), Done(value=TrackerInfo() as tracker):
            status.relation_imports.append(_tracker_status(tracker, generation))
        case AdoptRelationImport() as adopted, _:
            status.relation_imports.append(_tracker_status(adopted.tracker, generation))
    if relations and observed.at_path is not None:
        # Relations go into a project this object did not create; show which one.
        status.project_id = observed.at_path.id
        status.path_with_namespace = observed.at_path.path_with_namespace
    by_id = {tracker.id: tracker for tracker in observed.trackers}
    status.relation_imports = [
        _tracker_status(by_id[item.id], item.requested_generation) if item.id in by_id else item
        for item in status.relation_imports
    ]
    if isinstance(plan.action, UpToDate | ReportFailure):
        if not _concluded(status):
            status.finished_at = now
        if isinstance(plan.action, ReportFailure):
            status.failure_generation = generation
    if observed.gitlab.version is not None:
        status.gitlab_version = str(observed.gitlab.version)
    status.refusal = refusals.recorded(
        plan, outcome, recorded.refusal, generation, observed.retry_request, now
    )
    status.plan = plan_record(plan, outcome, recorded.plan, now)
    status.conditions = conditions(verdict, recorded.conditions, generation, now)
    status.observed_generation = generation
    return status
