"""The async GitLab client for the project import/export API and the group requests a
migration needs (gitlab layer).

One method per endpoint, every documented parameter, archives streamed in both directions in
constant memory. It raises only ``GitLabError`` subclasses, never sleeps and never retries:
waiting and retrying are the operator's decisions. It must not import kopf, Kubernetes or
prometheus_client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab.groups import GroupRequests
from gitlab_ferry.gitlab.multipart import ArchiveUpload
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
from gitlab_ferry.gitlab.session import ArchiveDownload, TokenType

__all__ = ["ArchiveDownload", "GitLabClient", "TokenType"]


class GitLabClient(GroupRequests):
    """A client for one GitLab instance and one token."""

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
        """``GET /projects/:id/export/download``, streamed."""
        path = f"projects/{encode_id(project)}/export/download"
        fallback = f"{str(project).replace('/', '_')}_export.tar.gz"
        async with self._download("download", path, fallback) as archive:
            yield archive

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
        return self._models("relation_imports", response, RelationImportTracker)

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
        return self._models("projects_search", response, Project)

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
