"""Routes that come with a release and hide behind a feature flag until they are GA.

remote-import (13.12; flag on by default from 14.0), remote-import-s3 (14.9; flag off by default
until the 15.11 GA removed it), import-relation and relation-imports (16.11; flag off until 17.1),
each on both sides of its cut-overs, with the flag turned on through the Features API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sim_helpers import LOCAL_HTTP, Api, VersionedFactory, issues, make_archive
from tests.support.archives import ArchiveServer

ABSENT = (404, {"error": "404 Not Found"})
FLAG_OFF = (404, {"message": "404 Not Found"})
S3_PARAMS = {
    "region": "",
    "bucket_name": "b",
    "file_key": "k",
    "access_key_id": "a",
    "secret_access_key": "s",
    "path": "p",
}


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    srv = ArchiveServer(body=make_archive(relations={"issues": issues(2)}))
    yield srv
    srv.close()


async def set_flag(api: Api, name: str, value: Any) -> None:
    r = await api.post(f"/features/{name}", "root-token", json={"value": value})
    assert r.status == 201, r.text


async def remote(api: Api, server: ArchiveServer) -> tuple[int, Any]:
    body = {"url": server.url + "/a.tar.gz", "path": "remote"}
    r = await api.post("/projects/remote-import", "root-token", json=body)
    return r.status, r.json()


async def test_remote_import_appears_in_13_12_behind_its_flag(
    at_version: VersionedFactory, server: ArchiveServer
) -> None:
    assert await remote(await at_version("13.11.4", LOCAL_HTTP), server) == ABSENT
    first = await at_version("13.12.0", LOCAL_HTTP)
    assert await remote(first, server) == FLAG_OFF  # the 13.12 flag is off by default
    await set_flag(first, "import_project_from_remote_file", True)
    assert (await remote(first, server))[0] == 201
    assert (await remote(await at_version("14.0.0", LOCAL_HTTP), server))[0] == 201
    assert server.hits == ["HEAD", "HEAD"]  # nothing fetched while the route was hidden


async def test_admins_can_hide_remote_import(
    at_version: VersionedFactory, server: ArchiveServer
) -> None:
    api = await at_version("18.7.0", LOCAL_HTTP)
    await set_flag(api, "import_project_from_remote_file", False)
    assert await remote(api, server) == FLAG_OFF
    assert (
        await api.delete("/features/import_project_from_remote_file", "root-token")
    ).status == 204
    assert (await remote(api, server))[0] == 201


async def test_an_explicit_profile_switch_removes_the_route(
    at_version: VersionedFactory, server: ArchiveServer
) -> None:
    api = await at_version("18.7.0", {**LOCAL_HTTP, "profile": {"remote_import": False}})
    assert await remote(api, server) == ABSENT


async def s3_import(api: Api) -> tuple[int, Any]:
    r = await api.post("/projects/remote-import-s3", "root-token", json=S3_PARAMS)
    return r.status, r.json()


REGION_BLANK = (400, {"message": "Region can't be blank"})


async def test_remote_import_s3_from_14_9_flag_off_until_15_11(
    at_version: VersionedFactory,
) -> None:
    assert await s3_import(await at_version("14.8.6")) == ABSENT
    for version in ("14.9.0", "14.10.0", "15.10.8"):
        api = await at_version(version)
        assert await s3_import(api) == FLAG_OFF, version
        await set_flag(api, "import_project_from_remote_file_s3", True)
        assert await s3_import(api) == REGION_BLANK, version
    ga = await at_version("15.11.0")
    assert await s3_import(ga) == REGION_BLANK
    await set_flag(ga, "import_project_from_remote_file_s3", False)
    assert await s3_import(ga) == REGION_BLANK  # the GA code no longer reads the flag


async def test_s3_answers_go_to_remote_import_s3_while_its_flag_is_on(
    at_version: VersionedFactory, server: ArchiveServer
) -> None:
    server.s3_headers = True
    server.content_type = "binary/octet-stream"
    flag_off = await at_version("14.10.0", LOCAL_HTTP)
    assert (await remote(flag_off, server))[0] == 201  # exempt from the header checks
    flag_on = await at_version("14.10.0", LOCAL_HTTP)
    await set_flag(flag_on, "import_project_from_remote_file_s3", True)
    assert await remote(flag_on, server) == (
        400,
        {"message": "To import from AWS S3 use `projects/remote-import-s3`"},
    )
    ga = await at_version("15.11.0", LOCAL_HTTP)
    await set_flag(ga, "import_project_from_remote_file_s3", True)
    assert (await remote(ga, server))[0] == 201


async def relation_routes(api: Api) -> tuple[tuple[int, Any], tuple[int, Any]]:
    listing = await api.get("/projects/grp%2Fproj/relation-imports", "root-token")
    post = await api.import_file(
        make_archive(relations={"issues": issues(1)}),
        endpoint="/projects/import-relation",
        path="grp/proj",
        relation="issues",
    )
    return (listing.status, listing.json()), (post.status, post.json())


async def test_relation_import_beta_in_16_11_ga_in_17_1(at_version: VersionedFactory) -> None:
    assert await relation_routes(await at_version("16.10.3")) == (ABSENT, ABSENT)
    beta = await at_version("16.11.0")
    assert await relation_routes(beta) == (FLAG_OFF, FLAG_OFF)
    await set_flag(beta, "single_relation_import", True)
    listing, post = await relation_routes(beta)
    assert listing == (200, [])
    assert (post[0], post[1]["status"]) == (201, "created")
    for version in ("17.0.5", "17.1.0"):
        api = await at_version(version)
        (listing_status, _), (post_status, _) = await relation_routes(api)
        expected = 404 if version == "17.0.5" else 201
        assert post_status == expected, version
        assert listing_status == (404 if version == "17.0.5" else 200), version
