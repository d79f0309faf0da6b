"""Failures of observing or applying, as condition reasons (effects layer).

Every exception an effect can meet becomes a ``Problem``: a CamelCase reason, a message with
secrets removed, and whether time alone may fix it. Nothing here performs I/O.
"""

from __future__ import annotations

from gitlab_ferry.effects.kube import KubeError
from gitlab_ferry.effects.s3 import S3Error
from gitlab_ferry.effects.secrets import MissingSecret
from gitlab_ferry.effects.sources import SourceError
from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab.multipart import SizeMismatch
from gitlab_ferry.reconcile.plan import Problem, Reason
from gitlab_ferry.redact import redact_text

_BY_TYPE: tuple[tuple[type[Exception], Reason, bool], ...] = (
    (MissingSecret, Reason.SECRET_MISSING, True),
    (errors.HostNotAllowed, Reason.HOST_NOT_ALLOWED, False),
    (errors.Unauthorized, Reason.UNAUTHORIZED, False),
    (errors.InsufficientScope, Reason.FORBIDDEN, False),
    (errors.NamespaceInvalid, Reason.FORBIDDEN, False),
    (errors.Forbidden, Reason.FORBIDDEN, False),
    (errors.ProjectNotFound, Reason.PROJECT_NOT_FOUND, False),
    (errors.NamespaceNotFound, Reason.NAMESPACE_NOT_FOUND, False),
    (errors.PathTaken, Reason.PATH_TAKEN, False),
    (errors.RateLimited, Reason.THROTTLED, True),
    (errors.Conflict, Reason.IMPORTING, True),
    (errors.TransportError, Reason.GITLAB_UNAVAILABLE, True),
    (errors.ServerError, Reason.GITLAB_UNAVAILABLE, True),
    (errors.UnexpectedResponse, Reason.GITLAB_UNAVAILABLE, True),
    (errors.GitLabError, Reason.GITLAB_ERROR, False),
    (SourceError, Reason.SOURCE_UNAVAILABLE, True),
    (SizeMismatch, Reason.SOURCE_UNAVAILABLE, True),
    (S3Error, Reason.STORAGE_UNAVAILABLE, True),
    (KubeError, Reason.KUBERNETES_ERROR, True),
)


def problem_from(exc: Exception, *, what: str = "") -> Problem:
    """The condition reason and message for ``exc``."""
    reason, transient = next(
        ((reason, transient) for kind, reason, transient in _BY_TYPE if isinstance(exc, kind)),
        (Reason.GITLAB_ERROR, True),
    )
    detail = redact_text(str(exc) or type(exc).__name__)
    if (
        isinstance(exc, errors.GitLabError)
        and exc.endpoint
        and not isinstance(exc, errors.HostNotAllowed)
    ):
        detail = f"GitLab ({exc.endpoint}): {detail}"
    retry_after = exc.retry_after if isinstance(exc, errors.RateLimited) else None
    message = f"{what}: {detail}" if what else detail
    return Problem(reason, message[:1000], transient=transient, retry_after=retry_after)
