"""The ProjectExport status after a reconcile pass (reconcile layer).

``begin_export`` is the record written before an export request reaches GitLab, so a restart
knows a request may be in flight; ``record_export`` folds an observation, a plan and its
outcome into the new status. Pure: the caller writes the result.
"""

from __future__ import annotations

from datetime import datetime

from gitlab_ferry.api import Artifact, ProjectExportSpec, ProjectExportStatus
from gitlab_ferry.api.project_export import ExportLinks
from gitlab_ferry.reconcile import refusals
from gitlab_ferry.reconcile.conditions import (
    applying_record,
    conditions,
    plan_record,
    verdict_of,
)
from gitlab_ferry.reconcile.exports.actions import RelayToS3, RequestExport, RetryLater
from gitlab_ferry.reconcile.exports.inputs import (
    ExportObservation,
    S3ObjectInfo,
    destination,
    export_spec_hash,
)
from gitlab_ferry.reconcile.exports.planner import next_export_at
from gitlab_ferry.reconcile.plan import Done, Outcome, Plan, ReportFailure, UpToDate
from gitlab_ferry.reconcile.timing import EXPORT_RETENTION


def begin_export(
    spec: ProjectExportSpec, recorded: ProjectExportStatus, plan: Plan, now: datetime
) -> ProjectExportStatus:
    """The status to write before ``plan`` (a RequestExport or RelayToS3) is applied."""
    status = recorded.model_copy(deep=True)
    status.plan = applying_record(plan, now)
    if isinstance(plan.action, RequestExport):
        request = plan.action
        status.started_at = now
        status.finished_at = None
        status.spec_hash = request.spec_hash
        status.attempts = request.attempt
        status.destination_key = request.s3_key if spec.s3 else None
        status.route = request.route.value
        # The request deletes this user's previous archive on GitLab: no more download links.
        status.links = None
    return status


def record_export(
    spec: ProjectExportSpec,
    generation: int | None,
    recorded: ProjectExportStatus,
    observed: ExportObservation,
    plan: Plan,
    outcome: Outcome | None,
    now: datetime,
) -> ProjectExportStatus:
    """The status after a pass that observed ``observed`` and applied ``plan``."""
    status = recorded.model_copy(deep=True)
    if observed.problem is None:
        status.export_status = observed.export_status
        status.project_id = observed.project_id or status.project_id
        status.path_with_namespace = observed.path_with_namespace or status.path_with_namespace
    concluding = _run_open(status) and status.spec_hash == export_spec_hash(spec)
    match plan.action, outcome:
        case UpToDate(), _ if concluding:
            _conclude_success(status, spec, observed.uploaded, observed, now)
        case RelayToS3(), Done(value=S3ObjectInfo() as copied) if concluding:
            _conclude_success(status, spec, copied, observed, now)
        case RetryLater() | ReportFailure(), _ if concluding:
            status.finished_at = now
    status.next_export_at = next_export_at(spec, status, now)
    if observed.gitlab.version is not None:
        status.gitlab_version = str(observed.gitlab.version)
    status.refusal = refusals.recorded(
        plan, outcome, recorded.refusal, generation, observed.retry_request, now
    )
    verdict = verdict_of(plan, outcome)
    status.plan = plan_record(plan, outcome, recorded.plan, now)
    status.conditions = conditions(verdict, recorded.conditions, generation, now)
    status.observed_generation = generation
    return status


def _run_open(status: ProjectExportStatus) -> bool:
    started = status.started_at
    if started is None:
        return False
    ends = [status.finished_at, status.artifact.created_at if status.artifact else None]
    concluded = max((t for t in ends if t is not None), default=None)
    return concluded is None or concluded < started


def _conclude_success(
    status: ProjectExportStatus,
    spec: ProjectExportSpec,
    uploaded: S3ObjectInfo | None,
    observed: ExportObservation,
    now: datetime,
) -> None:
    status.artifact = Artifact(
        location=destination(spec),
        bucket=spec.s3.bucket if spec.s3 else None,
        key=status.destination_key if spec.s3 else None,
        region=spec.s3.region if spec.s3 else None,
        size=uploaded.size if uploaded else None,
        etag=uploaded.etag if uploaded else None,
        sha256=uploaded.sha256 if uploaded else None,
        created_at=now,
    )
    status.finished_at = now
    # GitLab keeps the archive about 24 h after writing it; the request time is the earliest
    # it can have been written, so this is the earliest it can disappear.
    started = status.started_at or now
    status.links = ExportLinks(
        api_url=observed.api_url,
        web_url=observed.web_url,
        expires_at=started + EXPORT_RETENTION,
    )
