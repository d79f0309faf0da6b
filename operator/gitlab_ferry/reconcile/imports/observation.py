"""What a ProjectImport reconcile pass observes (reconcile layer).

Plain data gathered by the effect layer from GitLab and from the referenced ProjectExport,
consumed by the import, relation and deletion planners. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitlab_ferry.api import ArtifactLocation
from gitlab_ferry.gitlab_states import ImportState, RelationImportState, parse_state
from gitlab_ferry.gitlab_versions import GitLabInfo
from gitlab_ferry.reconcile.plan import Problem
from gitlab_ferry.reconcile.timing import Pace

GITLAB_PROJECT_IMPORT = "gitlab_project"


@dataclass(frozen=True)
class ProjectInfo:
    """A project found on the destination GitLab."""

    id: int
    path_with_namespace: str
    import_status: str | None = None
    import_type: str | None = None
    created_at: datetime | None = None
    marked_for_deletion: bool = False

    @property
    def import_state(self) -> ImportState:
        return parse_state(ImportState, self.import_status)

    @property
    def imported_from_archive(self) -> bool:
        return self.import_type == GITLAB_PROJECT_IMPORT


@dataclass(frozen=True)
class ImportInfo:
    """``GET /projects/:id/import`` of the project this object imported."""

    project_id: int
    path_with_namespace: str
    import_status: str
    import_type: str | None = None
    correlation_id: str | None = None
    import_error: str | None = None
    failed_relations: tuple[dict[str, Any], ...] = ()
    stats: dict[str, Any] | None = None

    @property
    def state(self) -> ImportState:
        return parse_state(ImportState, self.import_status)


@dataclass(frozen=True)
class TrackerInfo:
    """A relation-import tracker."""

    id: int
    relation: str
    status: str
    project_path: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def state(self) -> RelationImportState:
        return parse_state(RelationImportState, self.status)


@dataclass(frozen=True)
class ExportSource:
    """The ProjectExport named by ``source.exportRef``."""

    exists: bool
    ready: bool = False
    location: ArtifactLocation | None = None
    #: Why it is not ready (its Ready condition's message).
    message: str = ""
    #: Identifies the archive (when the export made it), so a retry can tell a new one.
    archive: str | None = None
    #: The archive is in AWS S3 itself (no custom endpoint), where GitLab can pull it from.
    in_aws: bool = False


@dataclass(frozen=True)
class ImportObservation:
    """What GitLab and Kubernetes showed for one ProjectImport."""

    #: The target's full path (resolved namespace + path), when it could be resolved.
    full_path: str | None = None
    #: The project at ``full_path``, if any.
    at_path: ProjectInfo | None = None
    #: The import status of the project recorded in ``status.projectId``.
    tracked: ImportInfo | None = None
    #: ``status.projectId`` is set but GitLab no longer has that project.
    tracked_missing: bool = False
    #: Projects at ``<path>-<32 hex>``: where GitLab puts an overwrite import at first.
    overwrite_candidates: tuple[ProjectInfo, ...] = ()
    export: ExportSource | None = None
    trackers: tuple[TrackerInfo, ...] = ()
    #: The annotation value approving a plan (``approval: Manual``).
    approved_plan: str | None = None
    #: Seconds after ``status.startedAt`` the work should end: how long imports usually take
    #: on this GitLab, plus how long this object's request took to be answered; if known.
    expected_seconds: float | None = None
    #: How to time looks while nothing is learned (one scout looks often, the rest follow).
    pace: Pace = Pace.ALONE
    #: The destination GitLab's version and what it was seen to lack.
    gitlab: GitLabInfo = field(default_factory=GitLabInfo)
    #: A ``url``/``urlSecretRef`` source is a public https URL that GitLab can fetch itself.
    gitlab_can_fetch: bool = True
    #: The value of the retry annotation (``RETRY_ANNOTATION``).
    retry_request: str | None = None
    problem: Problem | None = None
