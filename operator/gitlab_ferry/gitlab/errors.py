"""The GitLab client's error tree (gitlab layer).

Every failure of a GitLab call surfaces as a ``GitLabError``: transport failures, each HTTP
error class GitLab produces, rate limiting and bodies that are not what GitLab sends. Callers
decide what is retryable from the type alone. Messages are GitLab's own, with secrets removed;
this module must not import httpx, kopf or Kubernetes.
"""

from __future__ import annotations


class GitLabError(Exception):
    """A GitLab call failed."""

    #: Whether retrying the same call later may succeed.
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.endpoint = endpoint

    def __str__(self) -> str:
        # GitLab's own messages often start with the status already ("404 Not Found").
        if self.status is None or self.message.startswith(str(self.status)):
            return self.message
        return f"{self.status} {self.message}"


class TransportError(GitLabError):
    """No HTTP response: connection refused or reset, DNS, TLS."""

    retryable = True


class GitLabTimeout(TransportError):
    """The request timed out; for a POST, whether GitLab acted on it is unknown."""


class HostNotAllowed(GitLabError):
    """The operator's policy forbids connecting to this host (SSRF protection)."""


class UnexpectedResponse(GitLabError):
    """The response is not what GitLab sends: HTML from a proxy, malformed JSON, wrong shape."""

    retryable = True


class HTTPStatusError(GitLabError):
    """GitLab answered with an error status."""


class BadRequest(HTTPStatusError):
    """400: parameter, validation or service errors."""


class PathTaken(BadRequest):
    """400 ``Path has already been taken``: a project exists at the import path."""


class NamespaceInvalid(BadRequest):
    """400 ``Namespace is not valid``: no permission to create projects there."""


class ExportTooLarge(BadRequest):
    """400 ``The project size exceeds the export limit.``: the admin setting
    ``max_export_size``."""


class RemoteFileRejected(BadRequest):
    """400 from remote-import or remote-import-s3: GitLab refused the archive's URL or object
    before importing (its checks of the HEAD answer or of the S3 object)."""


class RemoteFileTooLarge(RemoteFileRejected):
    """400 ``Content length is too big``: over ``max_import_remote_file_size`` (10 GB on older
    GitLab)."""


class RemoteFileSizeUnknown(RemoteFileRejected):
    """400 ``Content length is too small``: no valid ``Content-Length`` in the HEAD answer."""


class RemoteFileContentType(RemoteFileRejected):
    """400 ``Content type '...' not allowed``: not ``application/gzip``, ``application/x-tar``
    or ``application/x-gzip``."""


class S3UrlRefused(RemoteFileRejected):
    """400 ``To import from AWS S3 use projects/remote-import-s3``: GitLab 14.9 to 15.10 with
    remote-import-s3's feature flag on refuse AWS S3 URLs in remote-import."""


class RemoteFileUnreachable(RemoteFileRejected):
    """400 ``... is blocked``, ``Failed to retrive headers``, ``File not found``: GitLab could
    not (or may not) reach the archive."""


class Unauthorized(HTTPStatusError):
    """401: no token, unknown, expired or revoked token."""


class Forbidden(HTTPStatusError):
    """403: not allowed (role, scope, disabled import source)."""


class InsufficientScope(Forbidden):
    """403 ``insufficient_scope``: the token lacks the ``api`` scope."""


class NotFound(HTTPStatusError):
    """404."""


class RouteNotFound(NotFound):
    """404 for the route itself (``{"error": "404 Not Found"}`` or a proxy's page): the
    base URL is likely wrong, not the project."""


class ProjectNotFound(NotFound):
    """404 ``Project Not Found`` (or not visible to the token's user)."""


class GroupNotFound(NotFound):
    """404 ``Group Not Found`` (or not visible to the token's user)."""


class NamespaceNotFound(NotFound):
    """404 ``Namespace Not Found``."""


class EndpointUnavailable(NotFound):
    """404 ``Not Found`` from an endpoint that only some GitLab versions have, or that an
    administrator turned off with its feature flag; the request changed nothing."""


class ExportNotAvailable(NotFound):
    """404 on download: no export file for this user, expired, or not in storage yet."""


class Conflict(HTTPStatusError):
    """409: e.g. a relation import already in progress."""

    retryable = True


class PayloadTooLarge(HTTPStatusError):
    """413: the archive exceeds the instance's import size limit."""


class UnprocessableEntity(HTTPStatusError):
    """422: e.g. the uploaded file name does not end in .gz."""


class RateLimited(HTTPStatusError):
    """429: a GitLab rate limit; ``retry_after`` seconds until a retry may succeed."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        endpoint: str = "",
        plain_text: bool = False,
    ) -> None:
        super().__init__(message, status=429, endpoint=endpoint)
        self.retry_after = retry_after
        self.plain_text = plain_text


class ServerError(HTTPStatusError):
    """5xx from GitLab or a proxy in front of it."""

    retryable = True
