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


def stable_hash(value: Any) -> str:
    """A short fingerprint of JSON-able data, stable across processes."""
    material = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:16]
