"""The async GitLab client for the project import/export API (gitlab layer).

One method per endpoint, every documented parameter, archives streamed in both directions in
constant memory. It raises only ``GitLabError`` subclasses, never sleeps and never retries:
waiting and retrying are the operator's decisions. It must not import kopf, Kubernetes or
prometheus_client.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab.multipart import ArchiveUpload, MultipartStream
from gitlab_ferry.gitlab.params import (
    ImportParameters,
    ProjectRef,
    S3Object,
    encode_id,
    form_fields,
)
from gitlab_ferry.gitlab.responses import (
    ExportStatus,
    ImportStatus,
    NamespaceRef,
    Project,
    RelationImportTracker,
    User,
    Version,
)
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
            async for chunk in self._response.aiter_bytes(chunk_size):
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


class GitLabClient:
    """A client for one GitLab instance and one token."""

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
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GitLabClient:
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

    # -- export -------------------------------------------------------------------------------

    async def schedule_export(
        self,
        project: ProjectRef,
        *,
        description: str | None = None,
        upload_url: str | None = None,
        upload_method: Literal["PUT", "POST"] = "PUT",
    ) -> None:
        """``POST /projects/:id/export``: 202 when scheduled. Deletes the caller's previous
        export file on GitLab, so it is not safe to repeat."""
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if upload_url is not None:
            body["upload"] = {"url": upload_url, "http_method": upload_method}
        await self._call(
            "export", "POST", f"projects/{encode_id(project)}/export", json=body, ok=(202,)
        )

    async def export_status(self, project: ProjectRef) -> ExportStatus:
        """``GET /projects/:id/export``: the caller's export of the project."""
        path = f"projects/{encode_id(project)}/export"
        response = await self._call("export_status", "GET", path)
        return self._model("export_status", response, ExportStatus)

    @asynccontextmanager
    async def open_export_download(self, project: ProjectRef) -> AsyncIterator[ArchiveDownload]:
        """``GET /projects/:id/export/download``, streamed. A redirect to object storage is
        followed without sending the token to another origin."""
        endpoint = "download"
        request = self._http.build_request("GET", f"projects/{encode_id(project)}/export/download")
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
            fallback = f"{str(project).replace('/', '_')}_export.tar.gz"
            yield ArchiveDownload(response, _filename(response, fallback), endpoint, self._token)
        finally:
            await response.aclose()

    async def download_export(
        self, project: ProjectRef, sink: Callable[[bytes], Awaitable[None]]
    ) -> tuple[str, int]:
        """Download the archive into ``sink`` chunk by chunk; returns (file name, bytes)."""
        async with self.open_export_download(project) as archive:
            total = 0
            async for chunk in archive.iter_bytes():
                total += len(chunk)
                await sink(chunk)
            return archive.filename, total

    # -- import -------------------------------------------------------------------------------

    async def _post_archive(
        self,
        endpoint: str,
        path: str,
        fields: list[tuple[str, str]],
        archive: ArchiveUpload,
    ) -> httpx.Response:
        stream = MultipartStream(fields, "file", archive)
        headers = {"Content-Type": stream.content_type}
        if stream.content_length is not None:
            headers["Content-Length"] = str(stream.content_length)
        return await self._call(endpoint, "POST", path, content=stream, headers=headers, ok=(201,))

    async def import_archive(
        self, archive: ArchiveUpload, target: ImportParameters
    ) -> ImportStatus:
        """``POST /projects/import``: upload an archive (multipart, streamed)."""
        fields = form_fields(target.as_json())
        response = await self._post_archive("import", "projects/import", fields, archive)
        return self._model("import", response, ImportStatus)

    async def remote_import(self, url: str, target: ImportParameters) -> ImportStatus:
        """``POST /projects/remote-import``: GitLab downloads the archive from ``url``."""
        body = {**target.as_json(), "url": url}
        response = await self._call(
            "remote_import", "POST", "projects/remote-import", json=body, ok=(201,)
        )
        return self._model("remote_import", response, ImportStatus)

    async def remote_import_s3(self, source: S3Object, target: ImportParameters) -> ImportStatus:
        """``POST /projects/remote-import-s3``: GitLab reads the archive from S3."""
        body = {
            **target.as_json(),
            "region": source.region,
            "bucket_name": source.bucket_name,
            "file_key": source.file_key,
            "access_key_id": source.access_key_id,
            "secret_access_key": source.secret_access_key,
        }
        response = await self._call(
            "remote_import_s3", "POST", "projects/remote-import-s3", json=body, ok=(201,)
        )
        return self._model("remote_import_s3", response, ImportStatus)

    async def import_status(self, project: ProjectRef) -> ImportStatus:
        """``GET /projects/:id/import``."""
        response = await self._call("import_status", "GET", f"projects/{encode_id(project)}/import")
        return self._model("import_status", response, ImportStatus)

    async def import_relation(
        self, archive: ArchiveUpload, *, path: str, relation: str
    ) -> RelationImportTracker:
        """``POST /projects/import-relation``: re-import one relation into an existing project
        (``path`` is that project's full path)."""
        fields = [("path", path), ("relation", relation)]
        response = await self._post_archive(
            "relation_import", "projects/import-relation", fields, archive
        )
        return self._model("relation_import", response, RelationImportTracker)

    async def relation_imports(self, project: ProjectRef) -> list[RelationImportTracker]:
        """``GET /projects/:id/relation-imports``: every tracker of the project."""
        response = await self._call(
            "relation_imports", "GET", f"projects/{encode_id(project)}/relation-imports"
        )
        body = parse_json(response, "relation_imports")
        if not isinstance(body, list):
            raise errors.UnexpectedResponse(
                "expected a JSON array of relation imports",
                status=response.status_code,
                endpoint="relation_imports",
            )
        try:
            return [RelationImportTracker.model_validate(item) for item in body]
        except ValidationError as exc:
            raise errors.UnexpectedResponse(
                "unexpected relation import tracker",
                status=response.status_code,
                endpoint="relation_imports",
            ) from exc

    # -- lookups ------------------------------------------------------------------------------

    async def project(self, project: ProjectRef, *, statistics: bool = False) -> Project:
        """``GET /projects/:id``; ``ProjectNotFound`` if absent or invisible. ``statistics``
        asks for the project's sizes (Reporter or higher)."""
        params = {"statistics": "true"} if statistics else None
        response = await self._call(
            "project", "GET", f"projects/{encode_id(project)}", params=params
        )
        return self._model("project", response, Project)

    async def find_project(self, project: ProjectRef) -> Project | None:
        """The project, or ``None`` when GitLab says it does not exist (or is not visible).
        A 404 for the route itself, as from a wrong base URL, still raises."""
        try:
            return await self.project(project)
        except errors.RouteNotFound:
            raise
        except errors.NotFound:
            return None

    async def search_projects(self, search: str) -> list[Project]:
        """``GET /projects?search=``: projects visible to the token's user (first page)."""
        response = await self._call(
            "projects_search",
            "GET",
            "projects",
            params={"search": search, "simple": "true", "per_page": "100"},
        )
        body = parse_json(response, "projects_search")
        if not isinstance(body, list):
            raise errors.UnexpectedResponse(
                "expected a JSON array", status=response.status_code, endpoint="projects_search"
            )
        try:
            return [Project.model_validate(item) for item in body]
        except ValidationError as exc:
            raise errors.UnexpectedResponse(
                "unexpected project in search results",
                status=response.status_code,
                endpoint="projects_search",
            ) from exc

    async def namespace(self, namespace: ProjectRef) -> NamespaceRef:
        """``GET /namespaces/:id`` by id or full path."""
        response = await self._call("namespace", "GET", f"namespaces/{encode_id(namespace)}")
        return self._model("namespace", response, NamespaceRef)

    async def version(self) -> Version:
        """``GET /version``: the GitLab release this instance runs."""
        response = await self._call("version", "GET", "version")
        return self._model("version", response, Version)

    async def current_user(self) -> User:
        """``GET /user``: who the token belongs to."""
        response = await self._call("user", "GET", "user")
        return self._model("user", response, User)

    async def delete_project(self, project: ProjectRef) -> None:
        """``DELETE /projects/:id`` (GitLab may only mark it for deletion)."""
        await self._call(
            "delete_project", "DELETE", f"projects/{encode_id(project)}", ok=(200, 202, 204)
        )
