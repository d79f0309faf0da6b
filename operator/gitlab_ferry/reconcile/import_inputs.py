"""What the ProjectImport planners decide with (reconcile layer): their policy, the routes an
archive can take to GitLab, the parameters every route sends, and when a failure is worth
retrying. Plain data and pure functions; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gitlab_ferry.api import ProjectImportSpec, ProjectImportStatus
from gitlab_ferry.api.base import ArtifactLocation
from gitlab_ferry.reconcile.timing import Polling


class Route(StrEnum):
    """How the archive reaches the destination GitLab."""

    #: The operator streams the source GitLab's download into ``POST /projects/import``.
    STREAM = "stream"
    #: ``POST /projects/remote-import`` with the URL from the spec.
    REMOTE_URL = "remote-url"
    #: ``POST /projects/remote-import`` with a pre-signed GET URL of the export's S3 object.
    PRESIGNED_URL = "presigned-url"
    #: ``POST /projects/remote-import-s3``.
    S3 = "s3"


@dataclass(frozen=True)
class ImportPolicy:
    """Operator-wide knobs of the import planner."""

    polling: Polling = field(default_factory=Polling)
    #: How often to look again at conditions only a person fixes (a taken path, a missing
    #: project), in case they did.
    recheck: float = 300.0
    #: Fallback look at a ProjectExport not finished yet (its status changes also wake the
    #: import).
    export_wait: float = 60.0
    #: A project created this long before a recorded request still counts as its result
    #: (tolerates clock skew between the operator and GitLab).
    adoption_window: float = 600.0


def route_for(spec: ProjectImportSpec, export_location: ArtifactLocation | None) -> Route:
    source = spec.source
    if source.export_ref is not None:
        return Route.PRESIGNED_URL if export_location is ArtifactLocation.S3 else Route.STREAM
    if source.s3 is not None:
        return Route.S3
    return Route.REMOTE_URL


def target_params(spec: ProjectImportSpec) -> dict[str, Any]:
    """The parameters every import route passes to GitLab about the new project."""
    return {
        "path": spec.path,
        "name": spec.name,
        "namespace": spec.namespace,
        "namespace_id": spec.namespace_id,
        "namespace_path": spec.namespace_path,
        "override_params": dict(spec.override_params or {}),
    }


def retry_wanted(recorded: ProjectImportStatus, generation: int | None) -> bool:
    """Whether a recorded failure predates the current spec, so it is worth another try."""
    failed = recorded.failure_generation
    return failed is not None and generation is not None and failed != generation
