"""HTTP plumbing of the GitLab client: error mapping and request accounting (gitlab layer).

Turns every httpx outcome into either a response GitLab meant as success or a typed
``GitLabError``, reading all of GitLab's error-body shapes. It never sleeps and never lets an
httpx exception escape. It must not import kopf, Kubernetes or prometheus_client: callers
observe requests through the ``RequestObserver`` protocol instead.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpcore
import httpx

from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab.ratelimit import retry_after_seconds
from gitlab_ferry.redact import redact_text


class RequestObserver(Protocol):
    """Told about every request the client makes (for metrics)."""

    def __call__(self, endpoint: str, status: int | None, seconds: float) -> None: ...


#: Checks a URL before the client connects to it; raises ``HostNotAllowed`` to refuse.
UrlGuard = Callable[[httpx.URL], Awaitable[None]]


#: Bytes httpcore asks the socket for in each read of a response body (its own is 64 KiB). A
#: multi-gigabyte archive costs per read (h11's events, httpx's iterators), and a read returns
#: what the socket holds without waiting for more, so reading up to 1 MiB cuts the CPU of a
#: download by about a third and delays nothing.
RESPONSE_READ_SIZE = 1 << 20


def widen_response_reads(size: int = RESPONSE_READ_SIZE) -> None:
    """Make httpcore's HTTP/1.1 connections read response bodies up to ``size`` bytes at a time.

    httpcore has no option for it: its connections read ``READ_NUM_BYTES``, a class
    attribute, so this is process-wide (every httpx client of the operator is the better for
    it). ``tests/contract`` checks that the attribute still does what this expects.
    """
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = size


def ssl_context(ca_pem: str | None) -> ssl.SSLContext | bool:
    """The TLS verification to use: system roots, plus the given PEM CAs if any."""
    if not ca_pem:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=ca_pem)
    return context


def parse_json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        content_type = response.headers.get("content-type", "")
        raise errors.UnexpectedResponse(
            f"expected JSON from GitLab, got {content_type or 'no content type'}",
            status=response.status_code,
            endpoint=endpoint,
        ) from exc


def _body_message(response: httpx.Response) -> tuple[str, str | None]:
    """GitLab's error message and OAuth-style error code, from any of its body shapes."""
    content_type = response.headers.get("content-type", "")
    if "html" in content_type:
        return f"{response.reason_phrase} (an HTML error page, likely from a proxy)", None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip().splitlines()
        return (text[0][:300] if text else response.reason_phrase), None
    if not isinstance(body, dict):
        return str(body)[:300], None
    code = body.get("error") if isinstance(body.get("error"), str) else None
    message = body.get("message")
    if isinstance(message, dict):
        if isinstance(message.get("error"), str):
            return message["error"], code
        parts = [
            f"{key} {'; '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in message.items()
        ]
        return "; ".join(parts), code
    if isinstance(message, str):
        return message, code
    if code is not None:
        description = body.get("error_description")
        return (f"{code}: {description}" if description else code), code
    return response.reason_phrase, None


#: Endpoints that only some GitLab versions have, or that a feature flag can turn off.
OPTIONAL_ENDPOINTS = frozenset(
    {"remote_import", "remote_import_s3", "relation_import", "relation_imports"}
)

#: GitLab's refusals of a remote archive (RemoteFileValidator, UrlBlocker, the S3 lookup).
_REMOTE_REFUSALS: tuple[tuple[str, type[errors.RemoteFileRejected]], ...] = (
    ("to import from aws s3 use", errors.S3UrlRefused),
    ("content length is too big", errors.RemoteFileTooLarge),
    ("content length is too small", errors.RemoteFileSizeUnknown),
    ("content type", errors.RemoteFileContentType),
    ("is blocked", errors.RemoteFileUnreachable),
    ("failed to retrive headers", errors.RemoteFileUnreachable),
    ("file not found", errors.RemoteFileUnreachable),
    ("failed to open", errors.RemoteFileUnreachable),
)


def _bad_request(message: str, endpoint: str, kwargs: dict[str, Any]) -> errors.GitLabError:
    lowered = message.lower()
    if "has already been taken" in lowered:
        return errors.PathTaken(message, **kwargs)
    if "namespace is not valid" in lowered:
        return errors.NamespaceInvalid(message, **kwargs)
    if "exceeds the export limit" in lowered:
        return errors.ExportTooLarge(message, **kwargs)
    if endpoint in ("remote_import", "remote_import_s3"):
        for text, kind in _REMOTE_REFUSALS:
            if text in lowered:
                return kind(message, **kwargs)
    return errors.BadRequest(message, **kwargs)


def error_for(
    response: httpx.Response, endpoint: str, now: float, token: str
) -> errors.GitLabError:
    """The typed error for a non-success response."""
    status = response.status_code
    raw, code = _body_message(response)
    message = redact_text(raw, token)
    kwargs: dict[str, Any] = {"status": status, "endpoint": endpoint}
    if status == 429:
        return errors.RateLimited(
            message,
            retry_after=retry_after_seconds(response.headers, now),
            endpoint=endpoint,
            plain_text="text/plain" in response.headers.get("content-type", ""),
        )
    if status >= 500:
        return errors.ServerError(message, **kwargs)
    lowered = message.lower()
    if status == 400:
        return _bad_request(message, endpoint, kwargs)
    if status == 401:
        return errors.Unauthorized(message, **kwargs)
    if status == 403:
        if code == "insufficient_scope":
            return errors.InsufficientScope(message, **kwargs)
        return errors.Forbidden(message, **kwargs)
    if status == 404:
        route_missing = code is not None or "html" in response.headers.get("content-type", "")
        if endpoint in OPTIONAL_ENDPOINTS and (route_missing or lowered == "404 not found"):
            return errors.EndpointUnavailable(message, **kwargs)
        if route_missing:
            return errors.RouteNotFound(message, **kwargs)
        if "namespace not found" in lowered:
            return errors.NamespaceNotFound(message, **kwargs)
        if "group not found" in lowered:
            return errors.GroupNotFound(message, **kwargs)
        if "project not found" in lowered:
            return errors.ProjectNotFound(message, **kwargs)
        if endpoint in ("download", "group_download") and (
            "expired" in lowered or "not available" in lowered
        ):
            return errors.ExportNotAvailable(message, **kwargs)
        return errors.NotFound(message, **kwargs)
    if status == 409:
        return errors.Conflict(message, **kwargs)
    if status == 413:
        return errors.PayloadTooLarge(message, **kwargs)
    if status == 422:
        return errors.UnprocessableEntity(message, **kwargs)
    return errors.HTTPStatusError(message, **kwargs)


def transport_error(exc: httpx.HTTPError, endpoint: str, token: str) -> errors.GitLabError:
    """The typed error for an httpx exception (no usable response)."""
    detail = redact_text(str(exc) or type(exc).__name__, token)
    if isinstance(exc, httpx.TimeoutException):
        return errors.GitLabTimeout(f"timed out: {detail}", endpoint=endpoint)
    if isinstance(exc, httpx.DecodingError):
        return errors.UnexpectedResponse(f"malformed response: {detail}", endpoint=endpoint)
    return errors.TransportError(f"{type(exc).__name__}: {detail}", endpoint=endpoint)
