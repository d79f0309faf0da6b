"""Plans, observations' problems and apply outcomes: the data the planners trade in
(reconcile layer).

Everything here is plain immutable data. The reconcile layer is pure: it takes time as ``now``
and must not import httpx, kopf, kubernetes, prometheus_client or anything that performs I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Condition reasons (CamelCase) used by both kinds."""

    SCHEDULED = "Scheduled"
    EXPORTING = "Exporting"
    IMPORTING = "Importing"
    THROTTLED = "Throttled"
    FINISHED = "Finished"
    FINISHED_WITH_FAILED_RELATIONS = "FinishedWithFailedRelations"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    EXPIRED = "Expired"
    UPLOAD_MISSING = "UploadMissing"
    INVALID_SPEC = "InvalidSpec"
    SECRET_MISSING = "SecretMissing"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    PROJECT_NOT_FOUND = "ProjectNotFound"
    NAMESPACE_NOT_FOUND = "NamespaceNotFound"
    PATH_TAKEN = "PathTaken"
    HOST_NOT_ALLOWED = "HostNotAllowed"
    GITLAB_UNAVAILABLE = "GitLabUnavailable"
    GITLAB_ERROR = "GitLabError"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    STORAGE_UNAVAILABLE = "StorageUnavailable"
    KUBERNETES_ERROR = "KubernetesError"
    WAITING_FOR_EXPORT = "WaitingForExport"
    EXPORT_NOT_FOUND = "ExportNotFound"
    AWAITING_APPROVAL = "AwaitingApproval"
    SUSPENDED = "Suspended"
    RELATION_IMPORT_FAILED = "RelationImportFailed"
    DELETING = "Deleting"
    UNSUPPORTED_BY_GITLAB = "UnsupportedByGitLab"
    WRONG_NAMESPACE = "WrongNamespace"
    UPLOAD_UNCONFIRMED = "UploadUnconfirmed"
    #: GitLab refused a request for a limit or rule it documents (see ``REFUSALS``), or could
    #: not reach the archive's URL.
    IMPORT_TOO_LARGE = "ImportTooLarge"
    EXPORT_TOO_LARGE = "ExportTooLarge"
    REMOTE_FILE_TOO_LARGE = "RemoteFileTooLarge"
    REMOTE_FILE_SIZE_UNKNOWN = "RemoteFileSizeUnknown"
    REMOTE_FILE_CONTENT_TYPE = "RemoteFileContentType"
    REMOTE_FILE_UNREACHABLE = "RemoteFileUnreachable"
    S3_UPLOAD_TOO_LARGE = "S3UploadTooLarge"
    REFUSED_BY_GITLAB = "RefusedByGitLab"


#: Reasons that need a person (a spec, Secret or GitLab change) rather than time.
STALLED_REASONS = frozenset(
    {
        Reason.FAILED,
        Reason.TIMED_OUT,
        Reason.UPLOAD_MISSING,
        Reason.INVALID_SPEC,
        Reason.UNAUTHORIZED,
        Reason.FORBIDDEN,
        Reason.PROJECT_NOT_FOUND,
        Reason.NAMESPACE_NOT_FOUND,
        Reason.PATH_TAKEN,
        Reason.HOST_NOT_ALLOWED,
        Reason.EXPORT_NOT_FOUND,
        Reason.RELATION_IMPORT_FAILED,
        Reason.UNSUPPORTED_BY_GITLAB,
        Reason.WRONG_NAMESPACE,
        Reason.IMPORT_TOO_LARGE,
        Reason.EXPORT_TOO_LARGE,
        Reason.REMOTE_FILE_TOO_LARGE,
        Reason.REMOTE_FILE_SIZE_UNKNOWN,
        Reason.REMOTE_FILE_CONTENT_TYPE,
        Reason.REMOTE_FILE_UNREACHABLE,
        Reason.S3_UPLOAD_TOO_LARGE,
        Reason.REFUSED_BY_GITLAB,
    }
)

#: Refusals GitLab documents for a request's content or for what the instance offers: the
#: same request would be refused again, and sending it can cost much (an archive streamed
#: again, an export POST that deletes the archive GitLab kept). Problems a changed Secret or
#: a changed GitLab fixes (a token, a role, a missing namespace) are rechecked instead.
REFUSALS = frozenset(
    {
        Reason.IMPORT_TOO_LARGE,
        Reason.EXPORT_TOO_LARGE,
        Reason.REMOTE_FILE_TOO_LARGE,
        Reason.REMOTE_FILE_SIZE_UNKNOWN,
        Reason.REMOTE_FILE_CONTENT_TYPE,
        Reason.S3_UPLOAD_TOO_LARGE,
        Reason.UNSUPPORTED_BY_GITLAB,
        Reason.REFUSED_BY_GITLAB,
    }
)


@dataclass(frozen=True)
class Problem:
    """Why an object could not be observed or applied: a condition reason and message."""

    reason: Reason
    message: str
    #: Whether time alone may fix it (a transient GitLab error, a Secret not yet created).
    transient: bool = False
    #: Seconds GitLab asked to wait (Retry-After), when it did.
    retry_after: float | None = None


@dataclass(frozen=True)
class Verdict:
    """What the Ready condition says about the object once the plan is applied."""

    ready: bool
    reason: Reason
    message: str
    #: False while the operator will retry by itself: never stalled then.
    final: bool = True

    @property
    def stalled(self) -> bool:
        return not self.ready and self.final and self.reason in STALLED_REASONS


@dataclass(frozen=True)
class Plan:
    """The one next action, why, and what the object's conditions say meanwhile.

    ``requeue_after`` is when to look again (seconds) if nothing else happens; ``None`` means
    only a change to the object (or, for exports, the next drift check) wakes it.
    """

    kind: str
    action: str
    reason: str
    verdict: Verdict
    requeue_after: float | None = None
    #: Whether applying calls GitLab in a way that is not safe to repeat blindly; such plans
    #: are recorded in status before they are applied, so a restart can tell.
    mutating: bool = False
    destructive: bool = False
    #: A destructive plan held back until the user approves its id (``approval: Manual``).
    awaiting_approval: bool = False
    #: What the plan's identity depends on besides kind and action.
    inputs: tuple[Any, ...] = ()
    #: Parameters the effect layer needs to apply the plan.
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def id(self) -> str:
        material = json.dumps([self.kind, self.action, *self.inputs], default=str)
        return hashlib.sha256(material.encode()).hexdigest()[:10]


# -- apply outcomes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The action was applied; ``data`` carries what GitLab answered (e.g. a 201 body)."""

    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Throttled:
    """The rate-limit budget (or GitLab's 429) says wait ``seconds``."""

    seconds: float
    bucket: str
    from_gitlab: bool = False


@dataclass(frozen=True)
class Failed:
    """The action failed; ``problem`` says how and whether time may fix it.

    ``sent`` is false when the failure came before the request reached GitLab (a Secret, a
    source, a signature), so GitLab certainly did nothing.
    """

    problem: Problem
    sent: bool = True


Outcome = Done | Throttled | Failed


def refused(problem: Problem) -> bool:
    """Whether a failed request is a refusal that sending it again cannot change: recorded,
    and not repeated until the spec changes or the user asks (``RETRY_ANNOTATION``)."""
    return not problem.transient and problem.reason in REFUSALS


def sentence(text: str) -> str:
    """``text`` as a sentence, without lower-casing names such as GitLab or S3 keys."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def stable_hash(value: Any) -> str:
    """A short fingerprint of JSON-able data, stable across processes."""
    material = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:16]
