"""The group requests of the client: listings across pages, group creation, and the group
export and import (multipart) GitLab's group import/export API documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from gitlab_ferry.gitlab import ArchiveUpload, GitLabClient
from gitlab_ferry.gitlab import errors as e

ARCHIVE = b"\x1f\x8b group archive \r\n--boundary-lookalike\r\n" * 5


def _page(items: list[dict[str, object]], next_page: str) -> httpx.Response:
    return httpx.Response(200, json=items, headers={"X-Next-Page": next_page})


async def test_listings_follow_x_next_page_to_the_end(
    gitlab: Any, client: GitLabClient, bodies: SimpleNamespace
) -> None:
    first = [{**bodies.project, "id": n, "path_with_namespace": f"g/p{n}"} for n in range(100)]
    second = [{**bodies.project, "id": 100, "path_with_namespace": "g/p100", "topics": ["go"]}]
    gitlab.reply(_page(first, "2"), _page(second, ""))
    projects = await client.group_projects("g")
    assert [p.id for p in projects] == list(range(101))
    assert projects[-1].topics == ["go"]
    pages = [request.url.params for request in gitlab.requests]
    assert [(p["page"], p["per_page"]) for p in pages] == [("1", "100"), ("2", "100")]
    assert all(p["include_subgroups"] == "true" for p in pages)


async def test_descendant_groups_are_listed_by_id_or_path(
    gitlab: Any, client: GitLabClient, bodies: SimpleNamespace
) -> None:
    child = {**bodies.group, "id": 10, "path": "apps", "full_path": "platform/apps", "parent_id": 9}
    gitlab.reply(_page([child], ""))
    (group,) = await client.descendant_groups("platform/sub")
    assert (group.full_path, group.parent_id) == ("platform/apps", 9)
    assert gitlab.only.url.raw_path.startswith(b"/api/v4/groups/platform%2Fsub/descendant_groups")


async def test_a_listing_that_never_ends_is_refused(gitlab: Any, client: GitLabClient) -> None:
    gitlab.handler = lambda request: _page([], str(int(request.url.params["page"]) + 1))
    with pytest.raises(e.UnexpectedResponse, match="pages"):
        await client.descendant_groups(9)


async def test_create_group_sends_the_parent_only_for_subgroups(
    gitlab: Any, client: GitLabClient, bodies: SimpleNamespace
) -> None:
    answer = httpx.Response(201, json=bodies.group)
    gitlab.reply(answer, answer)
    await client.create_group("Platform", "platform", None)
    await client.create_group("Apps", "apps", 9)
    bodies = [request.read() for request in gitlab.requests]
    assert bodies[0] == b'{"name":"Platform","path":"platform"}'
    assert bodies[1] == b'{"name":"Apps","path":"apps","parent_id":9}'


async def test_a_taken_group_path_is_path_taken(gitlab: Any, client: GitLabClient) -> None:
    message = 'Failed to save group {:path=>["has already been taken"]}'
    gitlab.reply(httpx.Response(400, json={"message": message}))
    with pytest.raises(e.PathTaken):
        await client.create_group("Apps", "apps", 9)


async def test_the_group_download_is_not_available_until_the_export_is_done(
    gitlab: Any, client: GitLabClient
) -> None:
    gitlab.reply(
        httpx.Response(404, json={"message": "404 Not found or has expired"}),
        httpx.Response(
            200,
            content=ARCHIVE,
            headers={"Content-Disposition": 'attachment; filename="group_export.tar.gz"'},
        ),
    )
    with pytest.raises(e.ExportNotAvailable):
        async with client.open_group_export_download(9):
            pass
    async with client.open_group_export_download(9) as download:
        received = b"".join([chunk async for chunk in download.iter_bytes()])
    assert received == ARCHIVE
    assert download.filename == "group_export.tar.gz"


async def test_group_import_uploads_name_path_parent_and_the_file(
    gitlab: Any,
    client: GitLabClient,
    multipart: Callable[[httpx.Request], list[Any]],
    source: Callable[..., AsyncIterator[bytes]],
) -> None:
    gitlab.reply(httpx.Response(202, json={"message": "202 Accepted"}))
    upload = ArchiveUpload("group.tar.gz", source(ARCHIVE, 11), size=len(ARCHIVE))
    await client.import_group(upload, name="Platform", path="platform", parent_id=7)
    request = gitlab.only
    assert request.url.path == "/api/v4/groups/import"
    parts = {part.name: part for part in multipart(request)}
    assert parts["name"].data == b"Platform"
    assert parts["path"].data == b"platform"
    assert parts["parent_id"].data == b"7"
    assert parts["file"].filename == "group.tar.gz"
    assert parts["file"].data == ARCHIVE
    assert request.headers["content-length"] == str(len(request.content))


async def test_archived_projects_are_filtered_by_gitlab(gitlab: Any, client: GitLabClient) -> None:
    gitlab.reply(_page([], ""), _page([], ""))
    await client.group_projects(9, archived=False)
    await client.group_projects(9, subgroups=False)
    left_out, everything = (request.url.params for request in gitlab.requests)
    assert left_out["archived"] == "false"
    assert "archived" not in everything
    assert everything["include_subgroups"] == "false"
