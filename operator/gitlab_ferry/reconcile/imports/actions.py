"""The actions a ProjectImport plan can take, and what applying them produces (reconcile
layer).

Frozen dataclasses carrying exactly what applying them needs: an import's route and target,
the relation to re-import, the project to delete. ``ImportTarget`` is the one place the
parameters every import route sends about the new project are spelled; the GitLab client
reads it through ``as_json``. The shared actions (UpToDate, ReportFailure, Suspend, Blocked,
ReportRefusal) come from ``plan``. Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from gitlab_ferry.reconcile.imports.observation import ImportInfo, TrackerInfo
from gitlab_ferry.reconcile.plan import Action


class Route(StrEnum):
    """How the archive reaches the destination GitLab."""

    #: The operator streams the archive into ``POST /projects/import``.
    STREAM = "stream"
    #: ``POST /projects/remote-import`` with the URL from the spec.
    REMOTE_URL = "remote-url"
    #: ``POST /projects/remote-import`` with a pre-signed GET URL of an object in AWS S3.
    PRESIGNED_URL = "presigned-url"
    #: ``POST /projects/remote-import-s3``.
    S3 = "s3"


#: The target fields that name the namespace; at most one is sent.
NAMESPACE_FIELDS = ("namespace", "namespace_id", "namespace_path")


@dataclass(frozen=True)
class ImportTarget:
    """Where and how an import creates its project: what every import route sends besides
    its source, each field named as GitLab names the parameter."""

    path: str
    name: str | None = None
    namespace: int | str | None = None
    namespace_id: int | None = None
    namespace_path: str | None = None
    overwrite: bool = False
    override_params: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The parameters to send: every field that is set (``overwrite`` only when true),
        as a copy the caller may change."""
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        body["override_params"] = dict(self.override_params)
        return {key: value for key, value in body.items() if value not in (None, False, {})}


@dataclass(frozen=True)
class ImportProject(Action):
    """An import request by ``route``: not idempotent, so recorded before it is sent."""

    mutating = True
    route: Route
    target: ImportTarget
    attempt: int
    #: The id of the project at the path this import replaces (``overwrite``).
    replaces: int | None = None

    @property
    def destructive(self) -> bool:
        return self.replaces is not None


@dataclass(frozen=True)
class ImportAccepted:
    """What applying an ImportProject produced: GitLab's 201 answer, and the archive's
    digest and size when the operator carried it."""

    info: ImportInfo
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class AdoptImport(Action):
    """Follow an import found on GitLab (after a restart, or one already under way)."""

    project_id: int
    path_with_namespace: str


@dataclass(frozen=True)
class AwaitImport(Action):
    """GitLab is importing; look again later."""


@dataclass(frozen=True)
class WaitForExport(Action):
    """The referenced ProjectExport has not finished."""


@dataclass(frozen=True)
class ReportPathTaken(Action):
    """Another project holds the path and ``overwrite`` is false (or it is being deleted)."""


@dataclass(frozen=True)
class ReportWrongNamespace(Action):
    """GitLab put the project somewhere other than the path asked for."""


@dataclass(frozen=True)
class Unsupported(Action):
    """This GitLab (its version, or a feature flag) lacks what the spec needs."""


@dataclass(frozen=True)
class ImportRelation(Action):
    """Re-import one relation into the existing project (``POST /projects/import-relation``)."""

    mutating = True
    relation: str
    #: The existing project's full path.
    path: str
    project_id: int


@dataclass(frozen=True)
class AdoptRelationImport(Action):
    """Follow a relation-import tracker a request made before a restart."""

    tracker: TrackerInfo


@dataclass(frozen=True)
class AwaitRelationImport(Action):
    """GitLab is re-importing a relation; look again later."""


@dataclass(frozen=True)
class DeleteProject(Action):
    """Delete the imported project (``deletionPolicy: Delete``)."""

    mutating = True
    project_id: int

    @property
    def destructive(self) -> bool:
        return True


@dataclass(frozen=True)
class ReleaseFinalizer(Action):
    """Nothing (more) to do on GitLab: the object may go."""
