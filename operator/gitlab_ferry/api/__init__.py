"""The api layer: pydantic models of the ProjectExport and ProjectImport resources, from which
the CRDs are generated. Pydantic only."""

from gitlab_ferry.api.base import (
    API_VERSION,
    APPROVE_ANNOTATION,
    GROUP,
    RETRY_ANNOTATION,
    VERSION,
    Artifact,
    ArtifactLocation,
    Condition,
    ConditionStatus,
    GitLabConnection,
    PlanPhase,
    PlanStatus,
    Refusal,
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
    "Refusal",
    "parse_duration",
]
