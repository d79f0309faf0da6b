"""The api layer: pydantic models of the ProjectExport, ProjectImport and GroupMigration
resources, from which the CRDs are generated. Pydantic only."""

from gitlab_ferry.api.base import (
    API_VERSION,
    APPROVE_ANNOTATION,
    GROUP,
    RETRY_ANNOTATION,
    VERSION,
    GitLabConnection,
    parse_duration,
)
from gitlab_ferry.api.project_export import (
    ProjectExport,
    ProjectExportSpec,
    ProjectExportStatus,
)
from gitlab_ferry.api.project_import import (
    ProjectImport,
    ProjectImportSpec,
    ProjectImportStatus,
)
from gitlab_ferry.api.status import (
    Artifact,
    ArtifactLocation,
    Condition,
    ConditionStatus,
    PlanPhase,
    PlanStatus,
    ReconciledStatus,
    Refusal,
    Timestamp,
    parse_timestamp,
    rfc3339,
)

__all__ = [
    "API_VERSION",
    "APPROVE_ANNOTATION",
    "GROUP",
    "RETRY_ANNOTATION",
    "VERSION",
    "Artifact",
    "ArtifactLocation",
    "Condition",
    "ConditionStatus",
    "GitLabConnection",
    "PlanPhase",
    "PlanStatus",
    "ProjectExport",
    "ProjectExportSpec",
    "ProjectExportStatus",
    "ProjectImport",
    "ProjectImportSpec",
    "ProjectImportStatus",
    "ReconciledStatus",
    "Refusal",
    "Timestamp",
    "parse_duration",
    "parse_timestamp",
    "rfc3339",
]
