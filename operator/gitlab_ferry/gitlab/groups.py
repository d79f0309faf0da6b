"""GitLab's group requests a migration needs (gitlab layer): a group and its descendants, the
projects of a tree, creating a group, and GitLab's group export and import.

GitLab's group export has no status endpoint: the download answers 404 until the archive is
ready. A group import answers 202 once the top group exists; its subgroups appear as GitLab's
worker creates them. Counters per user: 6 group exports, 1 group download and 6 group imports
a minute (the operator's budget keeps to them). It must not import kopf, Kubernetes or
prometheus_client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gitlab_ferry.gitlab.multipart import ArchiveUpload
from gitlab_ferry.gitlab.params import ProjectRef, encode_id
from gitlab_ferry.gitlab.responses import Group, Project
from gitlab_ferry.gitlab.session import ArchiveDownload, GitLabSession


class GroupRequests(GitLabSession):
    """The group endpoints."""

    async def group(self, group: ProjectRef) -> Group:
        """``GET /groups/:id`` by id or full path; ``NotFound`` if absent or invisible."""
        response = await self._call(
            "group", "GET", f"groups/{encode_id(group)}", params={"with_projects": "false"}
        )
        return self._model("group", response, Group)

    async def descendant_groups(self, group: ProjectRef) -> list[Group]:
        """``GET /groups/:id/descendant_groups``: every subgroup, at any depth."""
        path = f"groups/{encode_id(group)}/descendant_groups"
        return await self._paged("descendant_groups", path, Group, {})

    async def group_projects(
        self, group: ProjectRef, *, subgroups: bool = True, archived: bool | None = None
    ) -> list[Project]:
        """``GET /groups/:id/projects``: the group's projects (and its subgroups'), archived or
        not (``archived``; both when ``None``). The simple entities GitLab lists carry no
        ``archived`` field, so that filter is GitLab's."""
        path = f"groups/{encode_id(group)}/projects"
        params = {"include_subgroups": "true" if subgroups else "false", "simple": "true"}
        if archived is not None:
            params["archived"] = "true" if archived else "false"
        return await self._paged("group_projects", path, Project, params)

    async def create_group(self, name: str, path: str, parent_id: int | None) -> Group:
        """``POST /groups``: a group, at the top level or under ``parent_id``."""
        body: dict[str, object] = {"name": name, "path": path}
        if parent_id is not None:
            body["parent_id"] = parent_id
        response = await self._call("create_group", "POST", "groups", json=body, ok=(201,))
        return self._model("create_group", response, Group)

    async def schedule_group_export(self, group: ProjectRef) -> None:
        """``POST /groups/:id/export``: 202 when scheduled; replaces the caller's previous
        export of the group."""
        await self._call(
            "group_export", "POST", f"groups/{encode_id(group)}/export", json={}, ok=(202,)
        )

    @asynccontextmanager
    async def open_group_export_download(self, group: ProjectRef) -> AsyncIterator[ArchiveDownload]:
        """``GET /groups/:id/export/download``, streamed; ``NotFound`` until it is ready."""
        path = f"groups/{encode_id(group)}/export/download"
        fallback = f"{str(group).replace('/', '_')}_export.tar.gz"
        async with self._download("group_download", path, fallback) as archive:
            yield archive

    async def import_group(
        self, archive: ArchiveUpload, *, name: str, path: str, parent_id: int | None
    ) -> None:
        """``POST /groups/import`` (multipart): 202 once the top group exists."""
        fields = [("name", name), ("path", path)]
        if parent_id is not None:
            fields.append(("parent_id", str(parent_id)))
        await self._post_archive("group_import", "groups/import", fields, archive, ok=(202,))
