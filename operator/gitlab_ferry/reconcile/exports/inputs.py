"""What the ProjectExport planner decides on (reconcile layer): its policy, the observation
of GitLab, the fingerprint of a spec and the export run recorded in status.

Plain data and pure functions; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gitlab_ferry.api import ArtifactLocation, ProjectExportSpec, ProjectExportStatus
from gitlab_ferry.api.project_export import DESTINATION_FIELDS, ExportDestination
from gitlab_ferry.gitlab_states import EXPORT_IN_FLIGHT, ExportState, parse_state
from gitlab_ferry.gitlab_versions import GitLabInfo
from gitlab_ferry.reconcile.plan import Problem, stable_hash
from gitlab_ferry.reconcile.timing import Pace, Polling


@dataclass(frozen=True)
class ExportPolicy:
    """Operator-wide knobs of the export planner."""

    polling: Polling = field(default_factory=Polling)
    #: Export requests per desired state before giving up (a spec change or the next
    #: scheduled run starts over).
    max_attempts: int = 3
    #: Seconds to wait before retrying a failed export.
    retry_delay: float = 60.0
    #: How long GitLab may show ``none`` after accepting a request before it counts as lost.
    acceptance_grace: float = 120.0
    #: How often to look for GitLab's removal of an archive past its expiry (GitLab sweeps
    #: hourly).
    expiry_recheck: float = 300.0
    #: How often to look again at problems only a person fixes (a token, a project path).
    recheck: float = 300.0


#: The largest object Amazon S3 takes in one PUT, which is how GitLab uploads an export.
S3_SINGLE_UPLOAD_LIMIT = 5 * 1024**3


@dataclass(frozen=True)
class S3ObjectInfo:
    """An archive's object in S3: seen by a HEAD, or written by the operator's own copy."""

    size: int | None = None
    etag: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ExportObservation:
    """What GitLab (and the destination) showed."""

    export_status: str | None = None
    project_id: int | None = None
    path_with_namespace: str | None = None
    api_url: str | None = None
    web_url: str | None = None
    #: The S3 object at ``status.destinationKey``, when the destination is S3 and it exists.
    uploaded: S3ObjectInfo | None = None
    #: ProjectImports that reference this export and have not taken its archive yet.
    consumers_waiting: int = 0
    #: Seconds after ``status.startedAt`` the work should end: how long exports usually take
    #: on this GitLab, plus how long this object's request took to be answered; if known.
    expected_seconds: float | None = None
    #: How to time looks while nothing is learned (one scout looks often, the rest follow).
    pace: Pace = Pace.ALONE
    #: The source GitLab's version and what it was seen to lack.
    gitlab: GitLabInfo = field(default_factory=GitLabInfo)
    #: About how many bytes an export of the project carries (project statistics), when
    #: the destination has a size limit and GitLab told.
    exported_size: int | None = None
    #: The destination takes the archive into S3 in one PUT (S3's single-upload cap applies).
    upload_to_s3: bool = False
    #: The value of the retry annotation (``RETRY_ANNOTATION``).
    retry_request: str | None = None
    problem: Problem | None = None

    @property
    def state(self) -> ExportState:
        return parse_state(ExportState, self.export_status)


#: Destination fields that are in every fingerprint, set or not. Any other enters it only when
#: set, so adding a destination leaves the fingerprints of stored objects, and with them their
#: exports, as they were.
_ALWAYS_FINGERPRINTED = ("upload", "s3")


def export_spec_hash(spec: ProjectExportSpec) -> str:
    """Fingerprint of what shapes an export: a change means a new export is due."""
    destinations = {
        name: _dumped(getattr(spec, name))
        for name in DESTINATION_FIELDS
        if name in _ALWAYS_FINGERPRINTED or getattr(spec, name) is not None
    }
    return stable_hash(
        {
            "gitlab": spec.gitlab.url,
            "project": spec.project,
            "description": spec.description,
            **destinations,
        }
    )


def _dumped(destination: ExportDestination | None) -> object:
    return destination.model_dump(mode="json") if destination is not None else None


def destination(spec: ProjectExportSpec) -> ArtifactLocation:
    """Where the archive is found once an export has finished."""
    chosen = spec.destination()
    return chosen.location if chosen is not None else ArtifactLocation.GITLAB


@dataclass(frozen=True)
class Run:
    """The recorded export run, read from status."""

    started_at: datetime | None
    finished_at: datetime | None
    succeeded_at: datetime | None
    same_spec: bool
    attempts: int
    seen_in_flight: bool

    @property
    def open(self) -> bool:
        if self.started_at is None:
            return False
        concluded = max(
            (t for t in (self.finished_at, self.succeeded_at) if t is not None), default=None
        )
        return concluded is None or concluded < self.started_at

    @property
    def succeeded(self) -> bool:
        return (
            self.same_spec
            and self.succeeded_at is not None
            and (self.started_at is None or self.succeeded_at >= self.started_at)
        )


def recorded_run(recorded: ProjectExportStatus, current_hash: str) -> Run:
    return Run(
        started_at=recorded.started_at,
        finished_at=recorded.finished_at,
        succeeded_at=recorded.artifact.created_at if recorded.artifact else None,
        same_spec=recorded.spec_hash == current_hash,
        attempts=recorded.attempts if recorded.spec_hash == current_hash else 0,
        seen_in_flight=parse_state(ExportState, recorded.export_status) in EXPORT_IN_FLIGHT,
    )
