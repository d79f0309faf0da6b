"""Builders for the reconcile-layer unit tests: specs, recorded statuses and observations
made from a few keyword arguments, a fixed clock, and the expected-plan check.

Plain functions (not fixtures) because the planner tables are built at collection time.
The module has a name of its own rather than ``builders`` so that, with pytest's default
``prepend`` import mode, it cannot be shadowed by a helper of another test folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gitlab_ferry.api import (
    ArtifactLocation,
    ProjectExportSpec,
    ProjectExportStatus,
    ProjectImportSpec,
    ProjectImportStatus,
    rfc3339,
)
from gitlab_ferry.gitlab_versions import Capability, GitLabInfo, GitLabVersion
from gitlab_ferry.reconcile import exports, imports
from gitlab_ferry.reconcile import plan as plans
from gitlab_ferry.reconcile.exports import (
    ExportObservation,
    S3ObjectInfo,
    destination,
    export_spec_hash,
)
from gitlab_ferry.reconcile.imports import (
    ExportSource,
    ImportInfo,
    ImportObservation,
    ProjectInfo,
    TrackerInfo,
)
from gitlab_ferry.reconcile.plan import Action, Plan, Reason

__all__ = ["ANY", "ArtifactLocation", "Reason", "S3ObjectInfo"]


class EA:
    """The names of the ProjectExport actions, as status and Events show them."""

    REQUEST = exports.RequestExport.__name__
    RELAY = exports.RelayToS3.__name__
    AWAIT = exports.AwaitExport.__name__
    RETRY_LATER = exports.RetryLater.__name__
    HOLD = exports.HoldForConsumers.__name__
    UP_TO_DATE = plans.UpToDate.__name__
    REPORT_FAILURE = plans.ReportFailure.__name__
    REPORT_REFUSAL = plans.ReportRefusal.__name__
    SUSPEND = plans.Suspend.__name__
    BLOCKED = plans.Blocked.__name__


class IA:
    """The names of the ProjectImport actions, as status and Events show them."""

    IMPORT = imports.ImportProject.__name__
    ADOPT = imports.AdoptImport.__name__
    AWAIT = imports.AwaitImport.__name__
    WAIT_FOR_EXPORT = imports.WaitForExport.__name__
    REPORT_PATH_TAKEN = imports.ReportPathTaken.__name__
    REPORT_WRONG_NAMESPACE = imports.ReportWrongNamespace.__name__
    UNSUPPORTED = imports.Unsupported.__name__
    IMPORT_RELATION = imports.ImportRelation.__name__
    ADOPT_RELATION = imports.AdoptRelationImport.__name__
    AWAIT_RELATION = imports.AwaitRelationImport.__name__
    DELETE_PROJECT = imports.DeleteProject.__name__
    RELEASE = imports.ReleaseFinalizer.__name__
    UP_TO_DATE = plans.UpToDate.__name__
    REPORT_FAILURE = plans.ReportFailure.__name__
    REPORT_REFUSAL = plans.ReportRefusal.__name__
    SUSPEND = plans.Suspend.__name__
    BLOCKED = plans.Blocked.__name__


def accepted(body: dict[str, Any], sha256: str | None = None, size: int | None = None) -> Any:
    """What an ImportProject produced, from GitLab's 201 body."""
    info = ImportInfo(
        project_id=body["id"],
        path_with_namespace=body["path_with_namespace"],
        import_status=body.get("import_status", "none"),
        import_type=body.get("import_type"),
        correlation_id=body.get("correlation_id"),
        import_error=body.get("import_error"),
        failed_relations=tuple(body.get("failed_relations") or ()),
        stats=body.get("stats"),
    )
    return imports.ImportAccepted(info, sha256, size)


def field_of(action: Action, name: str) -> Any:
    """A field of an action, or of its import target (``path``, ``namespace``, ...)."""
    if hasattr(action, name):
        return getattr(action, name)
    target = getattr(action, "target", None)
    return getattr(target, name, "<missing>")


class _Anything:
    """Equal to everything: an expectation field that is not checked."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Anything()

#: The fixed "now" of every test (a Monday, 12:00 UTC).
NOW = datetime(2025, 6, 2, 12, 0, 0, tzinfo=UTC)

GITLAB = {"url": "https://gitlab.example.com", "tokenSecretRef": {"name": "gitlab-token"}}
S3_KEY = "backups/{namespace}/{name}/{project}/{date}.tar.gz"
#: ``S3_KEY`` rendered for an export of ``group/app`` by ``ci/app-export`` requested at ``NOW``.
RUN_KEY = "backups/ci/app-export/group/app/2025-06-02.tar.gz"


def at(seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> datetime:
    """``NOW`` shifted by the given amount (negative: the past)."""
    return NOW + timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)


def ago(seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> datetime:
    """A moment before ``NOW``."""
    return at(-seconds, minutes=-minutes, hours=-hours, days=-days)


# -- ProjectExport -------------------------------------------------------------------------


def export_spec(dest: str = "gitlab", **fields: Any) -> ProjectExportSpec:
    """A valid spec; ``dest`` is gitlab (kept on GitLab), upload or s3."""
    data: dict[str, Any] = {"gitlab": GITLAB, "project": "group/app"}
    if dest == "s3":
        data["s3"] = {
            "bucket": "backups",
            "key": S3_KEY,
            "region": "eu-west-1",
            "credentialsSecretRef": {"name": "s3-credentials"},
        }
    elif dest == "upload":
        data["upload"] = {"urlSecretRef": {"name": "upload-url"}}
    data.update(fields)
    return ProjectExportSpec.model_validate(data)


def export_status(**fields: Any) -> ProjectExportStatus:
    return ProjectExportStatus.model_validate(fields)


def open_run(
    spec: ProjectExportSpec,
    *,
    started: str | None = None,
    attempts: int = 1,
    seen: str | None = None,
    **fields: Any,
) -> ProjectExportStatus:
    """The status of a requested export that has not concluded (as ``begin_export`` left
    it); ``seen`` is the export status recorded on the last pass. An S3 run has its
    ``destinationKey``; ``artifact`` (the last good archive) is absent unless given."""
    data: dict[str, Any] = {
        "spec_hash": export_spec_hash(spec),
        "started_at": started or ago(30),
        "attempts": attempts,
        "export_status": seen,
    }
    if spec.s3 is not None:
        data["destination_key"] = RUN_KEY
    data.update(fields)
    return export_status(**data)


def succeeded(
    spec: ProjectExportSpec,
    *,
    started: datetime | None = None,
    attempts: int = 1,
    **fields: Any,
) -> ProjectExportStatus:
    """The status after a good export that was requested at ``started`` and finished two
    minutes later."""
    begun = started or at(hours=-2)
    done = begun + timedelta(minutes=2)
    data: dict[str, Any] = {
        "spec_hash": export_spec_hash(spec),
        "started_at": rfc3339(begun),
        "finished_at": rfc3339(done),
        "attempts": attempts,
        "export_status": "finished",
        "artifact": {"location": destination(spec), "created_at": rfc3339(done)},
    }
    if spec.s3 is not None:
        key = f"backups/ci/app-export/group/app/{begun:%Y-%m-%d}.tar.gz"
        data["destination_key"] = key
        data["artifact"].update(bucket=spec.s3.bucket, key=key, region=spec.s3.region)
    if destination(spec) is ArtifactLocation.GITLAB:
        data["links"] = {"expires_at": rfc3339(begun + timedelta(hours=24))}
    data.update(fields)
    return export_status(**data)


def failed_run(
    spec: ProjectExportSpec, *, attempts: int, export_status: str = "failed", **fields: Any
) -> ProjectExportStatus:
    """The status after a failed attempt was concluded (RetryLater or ReportFailure)."""
    data: dict[str, Any] = {"started_at": ago(minutes=10), "finished_at": ago(minutes=5)}
    data.update(fields)
    return open_run(spec, attempts=attempts, seen=export_status, **data)


def export_obs(status: str | None = "none", **fields: Any) -> ExportObservation:
    return ExportObservation(export_status=status, **{"gitlab": CURRENT, **fields})


# -- ProjectImport -------------------------------------------------------------------------

FULL_PATH = "team/app"
SOURCES: dict[str, dict[str, Any]] = {
    "url": {"url": "https://archives.example.com/app.tar.gz"},
    "urlSecretRef": {"urlSecretRef": {"name": "archive-url"}},
    "s3": {
        "s3": {
            "bucket": "archives",
            "key": "app.tar.gz",
            "region": "eu-west-1",
            "credentialsSecretRef": {"name": "s3-credentials"},
        }
    },
    "exportRef": {"exportRef": {"name": "app-export"}},
}


def import_spec(source: str = "url", **fields: Any) -> ProjectImportSpec:
    data: dict[str, Any] = {
        "gitlab": GITLAB,
        "path": "app",
        "namespacePath": "team",
        "source": SOURCES[source],
    }
    data.update(fields)
    return ProjectImportSpec.model_validate(data)


def import_status(**fields: Any) -> ProjectImportStatus:
    return ProjectImportStatus.model_validate(fields)


def project(
    project_id: int,
    *,
    path: str = FULL_PATH,
    status: str | None = "finished",
    archive: bool = True,
    created: datetime | None = None,
    deleting: bool = False,
) -> ProjectInfo:
    """A project on the destination GitLab; ``archive`` says it came from an export."""
    return ProjectInfo(
        id=project_id,
        path_with_namespace=path,
        import_status=status,
        import_type="gitlab_project" if archive else None,
        created_at=created,
        marked_for_deletion=deleting,
    )


def candidate(project_id: int, **fields: Any) -> ProjectInfo:
    """A project at ``<path>-<32 hex>``, where GitLab first puts an overwrite import."""
    return project(project_id, path=f"{FULL_PATH}-{project_id:032x}", **fields)


def tracked(project_id: int, status: str, **fields: Any) -> ImportInfo:
    data: dict[str, Any] = {"path_with_namespace": FULL_PATH, **fields}
    return ImportInfo(project_id=project_id, import_status=status, **data)


def export_source(location: ArtifactLocation | None = ArtifactLocation.GITLAB, **kw: Any):
    data: dict[str, Any] = {
        "exists": True,
        "ready": True,
        "location": location,
        "in_aws": location is ArtifactLocation.S3,
    }
    data.update(kw)
    return ExportSource(**data)


def tracker(
    tracker_id: int, relation: str, status: str, created_at: datetime | None = None
) -> TrackerInfo:
    """A relation-import tracker as GitLab lists it (its times as GitLab's text)."""
    return TrackerInfo(
        id=tracker_id,
        relation=relation,
        status=status,
        project_path=FULL_PATH,
        created_at=rfc3339(created_at) if created_at else None,
    )


#: The GitLab the planner tables run against unless a test names another.
CURRENT = GitLabInfo(GitLabVersion(18, 7))


def gitlab(version: str, *disabled: Capability) -> GitLabInfo:
    return GitLabInfo(GitLabVersion.parse(version), frozenset(disabled))


def import_obs(**fields: Any) -> ImportObservation:
    data: dict[str, Any] = {"full_path": FULL_PATH, "gitlab": CURRENT}
    data.update(fields)
    return ImportObservation(**data)


# -- expectations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a plan must say. ``ANY`` skips a field; ``params`` is checked as a subset."""

    action: str
    ready: bool
    reason: Reason
    requeue_after: Any = ANY
    mutating: bool = False
    destructive: bool = False
    awaiting_approval: bool = False
    stalled: Any = False
    params: dict[str, Any] = field(default_factory=dict)
    #: A fragment the one-sentence plan reason must contain.
    says: str = ""


def assert_plan(plan: Plan, expect: Expect) -> None:
    actual = {
        "action": plan.action.name,
        "ready": plan.verdict.ready,
        "reason": plan.verdict.reason,
        "requeue_after": plan.requeue_after,
        "mutating": plan.mutating,
        "destructive": plan.destructive,
        "awaiting_approval": plan.awaiting_approval,
        "stalled": plan.verdict.stalled,
        "params": {key: field_of(plan.action, key) for key in expect.params},
    }
    wanted = {
        "action": expect.action,
        "ready": expect.ready,
        "reason": expect.reason,
        "requeue_after": expect.requeue_after,
        "mutating": expect.mutating,
        "destructive": expect.destructive,
        "awaiting_approval": expect.awaiting_approval,
        "stalled": expect.stalled,
        "params": expect.params,
    }
    assert actual == wanted, plan.reason
    assert expect.says in plan.reason, plan.reason
