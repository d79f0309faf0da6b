"""The actions a ProjectExport plan can take (reconcile layer).

Frozen dataclasses carrying exactly what applying them needs; the shared ones (UpToDate,
ReportFailure, Suspend, Blocked, ReportRefusal) come from ``plan``. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gitlab_ferry.reconcile.plan import Action


class ExportRoute(StrEnum):
    """How an archive leaves GitLab."""

    #: GitLab keeps it (download links in status).
    KEPT = "kept"
    #: GitLab pushes it to the URL in ``spec.upload``.
    UPLOAD = "upload"
    #: GitLab pushes it to a pre-signed S3 URL.
    S3 = "s3"
    #: GitLab keeps it and the operator copies it to S3 in parts (past the single-PUT cap).
    RELAY = "relay"


@dataclass(frozen=True)
class RequestExport(Action):
    """``POST /projects/:id/export``: deletes the caller's previous archive, so mutating."""

    mutating = True
    attempt: int
    spec_hash: str
    route: ExportRoute
    #: The S3 key the archive goes to (``spec.s3.key`` with its placeholders filled in).
    s3_key: str | None = None


@dataclass(frozen=True)
class RelayToS3(Action):
    """Copy a finished export from GitLab's download to S3 in parts."""

    mutating = True
    s3_key: str


@dataclass(frozen=True)
class AwaitExport(Action):
    """GitLab is exporting; look again later."""


@dataclass(frozen=True)
class RetryLater(Action):
    """The last attempt failed; request again after a pause."""


@dataclass(frozen=True)
class HoldForConsumers(Action):
    """A renewal is due, but ProjectImports still need the current archive."""
