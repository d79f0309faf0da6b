"""One GitLab instance as one token sees it: the HTTP session, the error mapping of every
call, redirects without leaking the token, JSON bodies and lists across pages, and archives
streamed down (gitlab layer).

The endpoint methods (``GitLabClient``, ``GroupRequests``) build on this. It never sleeps and
never retries: those are the operator's decisions. It must not import kopf, Kubernetes or
prometheus_client.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab.chunks import coalesce
from gitlab_ferry.gitlab.multipart import ArchiveUpload, MultipartStream
from gitlab_ferry.gitlab.transport import (
    RequestObserver,
    UrlGuard,
    error_for,
    parse_json,
    ssl_context,
    transport_error,
)

TokenType = Literal["PrivateToken", "Bearer"]

_Model = TypeVar("_Model", bound=BaseModel)
DOWNLOAD_CHUNK = 1024 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 3
#: The most pages a listing follows (100 items each).
_MAX_PAGES = 1000


class ArchiveDownload:
    """An export archive being downloaded: its name, size (when known) and bytes."""

    def __init__(self, response: httpx.Response, filename: str, endpoint: str, token: str):
        self._response = response
        self._endpoint = endpoint
        self._token = token
        self.filename = filename
        length = response.headers.get("content-length")
        self.size: int | None = int(length) if length and length.isdigit() else None

    async def iter_bytes(self, chunk_size: int = DOWNLOAD_CHUNK) -> AsyncIterator[bytes]:
        try:
            async for chunk in coalesce(self._response.aiter_bytes(), chunk_size):
                yield chunk
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._endpoint, self._token) from exc


def _filename(response: httpx.Response, fallback: str) -> str:
    disposition = response.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return str(value).strip('"')
    return fallback


#: Every connection the pool opens is kept alive: with httpx's default of 20 idle ones, a
#: thousand objects polling one GitLab close and reopen connections (TCP and TLS handshakes)
#: on most requests.
CONNECTION_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)


class GitLabSession:
    """The plumbing every endpoint method uses, for one GitLab instance and one token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        token_type: TokenType = "PrivateToken",
        ca_pem: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: RequestObserver | None = None,
        url_guard: UrlGuard | None = None,
        now: Callable[[], float] = time.time,
        user_agent: str = "gitlab-ferry",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._observer = observer
        self._url_guard = url_guard
        self._now = now
        auth = (
            {"PRIVATE-TOKEN": token}
            if token_type == "PrivateToken"
            else {"Authorization": f"Bearer {token}"}
        )
        self._auth_headers = frozenset(name.lower() for name in auth)
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/api/v4/",
            headers={**auth, "User-Agent": user_agent, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=ssl_context(ca_pem),
            transport=transport,
            follow_redirects=False,
            limits=CONNECTION_LIMITS,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GitLabSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- plumbing ---------------------------------------------------------------------------

    def _observe(self, endpoint: str, status: int | None, started: float) -> None:
        if self._observer is not None:
            self._observer(endpoint, status, time.monotonic() - started)

    async def _send(
        self, endpoint: str, request: httpx.Request, *, stream: bool = False
    ) -> httpx.Response:
        if self._url_guard is not None:
            await self._url_guard(request.url)
        started = time.monotonic()
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            self._observe(endpoint, None, started)
            raise transport_error(exc, endpoint, self._token) from exc
        except Exception:
            self._observe(endpoint, None, started)
            raise
        self._observe(endpoint, response.status_code, started)
        return response

    def _redirect(self, response: httpx.Response) -> httpx.Request | None:
        """The follow-up request for a redirect, with credentials only for the same origin."""
        if response.status_code not in _REDIRECTS or "location" not in response.headers:
            return None
        location = response.url.join(response.headers["location"])
        request = self._http.build_request("GET", location)
        if (location.scheme, location.host, location.port) != (
            response.url.scheme,
            response.url.host,
            response.url.port,
        ):
            for name in self._auth_headers:
                request.headers.pop(name, None)
        return request

    async def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        ok: Sequence[int] = (200,),
        **kwargs: Any,
    ) -> httpx.Response:
        request = self._http.build_request(method, path, **kwargs)
        response = await self._send(endpoint, request)
        # A GET of a renamed or moved project answers 301 to its numeric-id URL.
        for _ in range(_MAX_REDIRECTS):
            follow = self._redirect(response) if method == "GET" else None
            if follow is None:
                break
            response = await self._send(endpoint, follow)
        if response.status_code not in ok:
            raise error_for(response, endpoint, self._now(), self._token)
        return response

    def _model(self, endpoint: str, response: httpx.Response, model: type[_Model]) -> _Model:
        try:
            return model.model_validate(parse_json(response, endpoint))
        except ValidationError as exc:
            raise errors.UnexpectedResponse(
                f"unexpected response body: {exc.error_count()} field error(s)",
                status=response.status_code,
                endpoint=endpoint,
            ) from exc

    def _models(self, endpoint: str, response: httpx.Response, model: type[_Model]) -> list[_Model]:
        """A JSON array of ``model``."""
        body = parse_json(response, endpoint)
        if not isinstance(body, list):
            raise errors.UnexpectedResponse(
                "expected a JSON array", status=response.status_code, endpoint=endpoint
            )
        try:
            return [model.model_validate(item) for item in body]
        except ValidationError as exc:
            raise errors.UnexpectedResponse(
                f"unexpected item in a list: {exc.error_count()} field error(s)",
                status=response.status_code,
                endpoint=endpoint,
            ) from exc

    async def _paged(
        self, endpoint: str, path: str, model: type[_Model], params: dict[str, str]
    ) -> list[_Model]:
        """Every item of a paginated listing, following GitLab's ``X-Next-Page``."""
        items: list[_Model] = []
        page = "1"
        for _ in range(_MAX_PAGES):
            response = await self._call(
                endpoint, "GET", path, params={**params, "per_page": "100", "page": page}
            )
            items.extend(self._models(endpoint, response, model))
            page = response.headers.get("x-next-page", "").strip()
            if not page:
                return items
        raise errors.UnexpectedResponse(
            f"more than {_MAX_PAGES} pages", status=200, endpoint=endpoint
        )

    @asynccontextmanager
    async def _download(
        self, endpoint: str, path: str, fallback: str
    ) -> AsyncIterator[ArchiveDownload]:
        """A streamed download. A redirect to object storage is followed without sending
        the token to another origin."""
        request = self._http.build_request("GET", path)
        response = await self._send(endpoint, request, stream=True)
        try:
            for _ in range(_MAX_REDIRECTS):
                follow = self._redirect(response)
                if follow is None:
                    break
                await response.aclose()
                response = await self._send("download_storage", follow, stream=True)
            if response.status_code != 200:
                try:
                    await response.aread()
                except httpx.HTTPError as exc:
                    raise transport_error(exc, endpoint, self._token) from exc
                raise error_for(response, endpoint, self._now(), self._token)
            yield ArchiveDownload(response, _filename(response, fallback), endpoint, self._token)
        finally:
            await response.aclose()

    async def _post_archive(
        self,
        endpoint: str,
        path: str,
        fields: list[tuple[str, str]],
        archive: ArchiveUpload,
        *,
        ok: Sequence[int] = (201,),
    ) -> httpx.Response:
        stream = MultipartStream(fields, "file", archive)
        headers = {"Content-Type": stream.content_type}
        if stream.content_length is not None:
            headers["Content-Length"] = str(stream.content_length)
        return await self._call(endpoint, "POST", path, content=stream, headers=headers, ok=ok)
