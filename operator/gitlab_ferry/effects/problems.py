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
from gitlab_ferry.gitlab_versions import OLDEST_SUPPORTED, GitLabInfo
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
    (errors.GroupNotFound, Reason.GROUP_NOT_FOUND, False),
    (errors.PathTaken, Reason.PATH_TAKEN, False),
    (errors.ExportTooLarge, Reason.EXPORT_TOO_LARGE, False),
    (errors.PayloadTooLarge, Reason.IMPORT_TOO_LARGE, False),
    (errors.RemoteFileTooLarge, Reason.REMOTE_FILE_TOO_LARGE, False),
    (errors.RemoteFileSizeUnknown, Reason.REMOTE_FILE_SIZE_UNKNOWN, False),
    (errors.RemoteFileContentType, Reason.REMOTE_FILE_CONTENT_TYPE, False),
    (errors.RemoteFileUnreachable, Reason.REMOTE_FILE_UNREACHABLE, False),
    (errors.BadRequest, Reason.REFUSED_BY_GITLAB, False),
    (errors.UnprocessableEntity, Reason.REFUSED_BY_GITLAB, False),
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


#: What to change, for refusals GitLab documents.
_REMEDIES = {
    Reason.IMPORT_TOO_LARGE: (
        "The archive is larger than the destination's maximum import size: an administrator "
        "can raise max_import_size (Admin > Settings > General > Import and export settings, "
        "or the application settings API; 0 means no limit)."
    ),
    Reason.EXPORT_TOO_LARGE: (
        "The project is larger than the source's maximum export size: an administrator can "
        "raise max_export_size (Admin > Settings > General > Import and export settings, or "
        "the application settings API; 0 means no limit)."
    ),
    Reason.REMOTE_FILE_TOO_LARGE: (
        "The archive is larger than GitLab imports from a URL (max_import_remote_file_size, "
        "10 GB by default): an administrator can raise it, or import from a ProjectExport "
        "kept on GitLab (spec.source.exportRef), which the operator uploads itself."
    ),
    Reason.REMOTE_FILE_SIZE_UNKNOWN: (
        "GitLab needs a valid Content-Length in the answer to its HEAD request: serve the "
        "archive from a server that sends one."
    ),
    Reason.REMOTE_FILE_CONTENT_TYPE: (
        "GitLab takes only Content-Type application/gzip, application/x-gzip or "
        "application/x-tar: fix the server's or the object's content type."
    ),
    Reason.REMOTE_FILE_UNREACHABLE: (
        "GitLab fetches the archive itself: the URL must be https, reachable from GitLab "
        "(local addresses need allow_local_requests_from_web_hooks_and_services) and answer "
        "a HEAD within a second."
    ),
}


def unsupported_version(gitlab: GitLabInfo) -> Problem:
    """The problem of a GitLab older than gitlab-ferry supports."""
    return Problem(
        Reason.UNSUPPORTED_BY_GITLAB,
        f"{gitlab.describe()} is older than {OLDEST_SUPPORTED}, the oldest GitLab "
        "gitlab-ferry supports: upgrade GitLab.",
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
    message = (f"{what}: {detail}" if what else detail)[:600]
    if reason in _REMEDIES:
        message = f"{message.rstrip('.')}. {_REMEDIES[reason]}"
    return Problem(reason, message, transient=transient, retry_after=retry_after)
