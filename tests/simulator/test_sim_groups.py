"""The Groups API: GET /groups/:id, descendant groups, group projects and POST /groups."""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import Api, VersionedFactory, make_archive

from gitlab_ferry_testbed.simulator import Seed, SeedUser

GROUP_NOT_FOUND = {"message": "404 Group Not Found"}
THROTTLED = {
    "message": {"error": "This endpoint has been requested too many times. Try again later."}
}


async def _create(api: Api, token: str, **fields: Any) -> Any:
    return await api.post("/groups", token, json=fields)


async def test_get_group_by_id_and_encoded_path(api: Api) -> None:
    by_path = await api.get("/groups/grp%2Fsub", "owner-token")
    assert by_path.status == 200
    body = by_path.json()
    assert body["full_path"] == "grp/sub"
    assert body["path"] == "sub"
    assert body["name"] == "Sub"
    assert body["full_name"] == "Group / Sub"
    assert body["visibility"] == "private"
    assert body["web_url"] == f"{api.sim.url}/groups/grp/sub"
    parent = (await api.get("/groups/grp", "owner-token")).json()
    assert body["parent_id"] == parent["id"]
    assert parent["parent_id"] is None
    by_id = await api.get(f"/groups/{body['id']}", "owner-token")
    assert by_id.json()["full_path"] == "grp/sub"


async def test_missing_hidden_and_unencoded_groups(api: Api) -> None:
    for path, token in (
        ("/groups/nope", "owner-token"),
        ("/groups/99999", "owner-token"),
        ("/groups/grp", "outsider-token"),
        ("/groups/grp", None),
        ("/groups/grp%2Fproj", "owner-token"),  # a project is not a group
    ):
        r = await api.get(path, token)
        assert (r.status, r.json()) == (404, GROUP_NOT_FOUND), path
    literal = await api.get("/groups/grp/sub", "owner-token")
    assert (literal.status, literal.json()) == (404, {"error": "404 Not Found"})


async def test_public_group_needs_no_token_and_members_of_a_subgroup_see_its_parent(
    api: Api,
) -> None:
    assert (await api.get("/groups/pub")).status == 200
    api.sim.state.namespace_by_full_path("grp/sub").members[  # type: ignore[union-attr]
        api.sim.state.user_by_username("outsider").id  # type: ignore[union-attr]
    ] = 30
    assert (await api.get("/groups/grp", "outsider-token")).status == 200


async def test_group_detail_projects_and_runners_token(api: Api) -> None:
    owner = (await api.get("/groups/grp", "owner-token")).json()
    assert sorted(p["path_with_namespace"] for p in owner["projects"]) == ["grp/other", "grp/proj"]
    assert owner["shared_projects"] == []
    assert owner["shared_with_groups"] == []
    assert "runners_token" in owner
    maintainer = (await api.get("/groups/grp", "maint-token")).json()
    assert "runners_token" not in maintainer
    lean = (await api.get("/groups/grp?with_projects=false", "owner-token")).json()
    assert "projects" not in lean
    bad = await api.get("/groups/grp?with_projects=maybe", "owner-token")
    assert (bad.status, bad.json()) == (400, {"error": "with_projects is invalid"})


async def test_descendant_groups(api: Api) -> None:
    made = await _create(
        api, "owner-token", name="Deeper", path="deeper", parent_id=_id(api, "grp/sub")
    )
    assert made.status == 201
    r = await api.get("/groups/grp/descendant_groups", "owner-token")
    assert r.status == 200
    assert [g["full_path"] for g in r.json()] == ["grp/sub/deeper", "grp/sub"]
    assert r.headers["X-Total"] == "2"
    by_path = await api.get("/groups/grp/descendant_groups?order_by=id&sort=desc", "owner-token")
    assert [g["full_path"] for g in by_path.json()] == ["grp/sub/deeper", "grp/sub"]
    bad = await api.get("/groups/grp/descendant_groups?order_by=size", "owner-token")
    assert (bad.status, bad.json()) == (400, {"error": "order_by does not have a valid value"})
    hidden = await api.get("/groups/grp/descendant_groups", "outsider-token")
    assert (hidden.status, hidden.json()) == (404, GROUP_NOT_FOUND)


async def test_descendants_of_a_public_group_for_a_non_member(api: Api) -> None:
    made = await _create(
        api,
        "maint-token",
        name="Open",
        path="open-sub",
        parent_id=_id(api, "pub"),
        visibility="public",
    )
    assert made.status == 201, made.text
    mine = await api.get("/groups/pub/descendant_groups", "outsider-token")
    assert mine.json() == []
    everything = await api.get("/groups/pub/descendant_groups?all_available=true", "outsider-token")
    assert [g["full_path"] for g in everything.json()] == ["pub/open-sub"]
    anonymous = await api.get("/groups/pub/descendant_groups")
    assert [g["full_path"] for g in anonymous.json()] == ["pub/open-sub"]


def _id(api: Api, full_path: str) -> int:
    ns = api.sim.state.namespace_by_full_path(full_path)
    assert ns is not None
    return ns.id


async def test_group_projects_subgroups_archived_and_entities(api: Api) -> None:
    api.sim.create_project(
        {
            "path_with_namespace": "grp/sub/old",
            "owner": "owner",
            "attributes": {"archived": True, "topics": ["zeta", "alpha"]},
        }
    )
    own = await api.get("/groups/grp/projects", "owner-token")
    assert sorted(p["path"] for p in own.json()) == ["other", "proj"]
    every = await api.get("/groups/grp/projects?include_subgroups=true", "owner-token")
    assert sorted(p["path"] for p in every.json()) == ["deep", "old", "other", "proj"]
    archived = await api.get(
        "/groups/grp/projects?include_subgroups=true&archived=true", "owner-token"
    )
    assert [p["path"] for p in archived.json()] == ["old"]
    (full,) = archived.json()
    assert full["archived"] is True
    assert full["topics"] == ["alpha", "zeta"]
    assert full["tag_list"] == ["alpha", "zeta"]
    current = await api.get(
        "/groups/grp/projects?include_subgroups=true&archived=false", "owner-token"
    )
    assert "old" not in [p["path"] for p in current.json()]
    simple = await api.get(
        "/groups/grp/projects?include_subgroups=true&archived=true&simple=true", "owner-token"
    )
    (basic,) = simple.json()
    assert "archived" not in basic  # BasicProjectDetails has no archived
    assert basic["topics"] == ["alpha", "zeta"]
    assert basic["path_with_namespace"] == "grp/sub/old"


async def test_group_projects_are_those_the_caller_may_read(api: Api) -> None:
    hidden = await api.get("/groups/grp/projects", "outsider-token")
    assert (hidden.status, hidden.json()) == (404, GROUP_NOT_FOUND)
    public = await api.get("/groups/pub/projects")
    assert [p["path"] for p in public.json()] == ["open"]


async def test_group_projects_pagination_headers(api: Api) -> None:
    for i in range(5):
        api.sim.create_project({"path_with_namespace": f"grp/extra-{i}", "owner": "owner"})
    first = await api.get("/groups/grp/projects?per_page=3&order_by=id&sort=asc", "owner-token")
    assert [p["path"] for p in first.json()] == ["proj", "other", "extra-0"]
    h = first.headers
    assert (h["X-Page"], h["X-Per-Page"], h["X-Next-Page"], h["X-Prev-Page"]) == ("1", "3", "2", "")
    assert (h["X-Total"], h["X-Total-Pages"]) == ("7", "3")
    assert 'rel="next"' in h["Link"]
    assert 'rel="last"' in h["Link"]
    assert "page=2" in h["Link"]
    last = await api.get(
        "/groups/grp/projects?per_page=3&page=3&order_by=id&sort=asc", "owner-token"
    )
    assert [p["path"] for p in last.json()] == ["extra-4"]
    assert (last.headers["X-Next-Page"], last.headers["X-Prev-Page"]) == ("", "2")
    capped = await api.get("/groups/grp/projects?per_page=500", "owner-token")
    assert capped.headers["X-Per-Page"] == "100"
    api.sim.clock.advance(5)  # type: ignore[attr-defined]
    api.sim.create_project({"path_with_namespace": "grp/newest", "owner": "owner"})
    newest_first = await api.get("/groups/grp/projects", "owner-token")
    assert newest_first.json()[0]["path"] == "newest"
    bad = await api.get("/groups/grp/projects?page=first", "owner-token")
    assert (bad.status, bad.json()) == (400, {"error": "page is invalid"})


@pytest.mark.parametrize(("version", "has_topics"), [("13.12", False), ("14.0", True)])
async def test_topics_arrive_in_14_0_and_tag_list_stays(
    at_version: VersionedFactory, version: str, has_topics: bool
) -> None:
    api = await at_version(version)
    api.sim.create_project(
        {"path_with_namespace": "grp/topical", "owner": "owner", "attributes": {"topics": ["go"]}}
    )
    (project,) = [
        p
        for p in (await api.get("/groups/grp/projects", "owner-token")).json()
        if p["path"] == "topical"
    ]
    assert project["tag_list"] == ["go"]
    assert ("topics" in project) is has_topics


async def test_create_top_level_group(api: Api) -> None:
    r = await _create(api, "dev-token", name="Fresh Start", path="fresh", description="new")
    assert r.status == 201
    body = r.json()
    assert (body["name"], body["path"], body["full_path"]) == ("Fresh Start", "fresh", "fresh")
    assert (body["parent_id"], body["visibility"], body["description"]) == (None, "private", "new")
    assert "projects" not in body
    # the creator is its Owner: it may export the group and sees the runners token
    assert "runners_token" in (await api.get("/groups/fresh", "dev-token")).json()


async def test_path_taken_answers_as_gitlab(api: Api) -> None:
    for fields in (
        {"name": "Again", "path": "grp"},
        {"name": "Again", "path": "owner"},  # a user's namespace
        {"name": "Again", "path": "sub", "parent_id": _id(api, "grp")},
        {"name": "Again", "path": "proj", "parent_id": _id(api, "grp")},  # a project's path
    ):
        r = await _create(api, "root-token", **fields)
        assert r.status == 400, fields
        assert r.json() == {"message": 'Failed to save group {:path=>["has already been taken"]}'}


async def test_other_creation_errors(api: Api) -> None:
    missing = await api.post("/groups", "root-token", json={})
    assert (missing.status, missing.json()) == (400, {"error": "name is missing, path is missing"})
    bad_path = await _create(api, "root-token", name="X", path="-x")
    assert bad_path.json()["message"].startswith('Failed to save group {:path=>["can contain only')
    too_open = await _create(
        api, "root-token", name="X", path="x", parent_id=_id(api, "grp"), visibility="public"
    )
    assert too_open.json() == {
        "message": 'Failed to save group {:visibility_level=>["public is not allowed since the '
        'parent group has a private visibility."]}'
    }
    bad_visibility = await _create(api, "root-token", name="X", path="x", visibility="secret")
    assert bad_visibility.json() == {"error": "visibility does not have a valid value"}


async def test_subgroup_permissions(api: Api) -> None:
    grp = _id(api, "grp")
    assert (await _create(api, "maint-token", name="M", path="m", parent_id=grp)).status == 201
    dev = await _create(api, "dev-token", name="D", path="d", parent_id=grp)
    assert (dev.status, dev.json()) == (403, {"message": "403 Forbidden"})
    hidden = await _create(api, "outsider-token", name="O", path="o", parent_id=grp)
    assert (hidden.status, hidden.json()) == (404, GROUP_NOT_FOUND)
    missing = await _create(api, "root-token", name="O", path="o", parent_id=99999)
    assert (missing.status, missing.json()) == (404, GROUP_NOT_FOUND)
    anonymous = await api.post("/groups", json={"name": "A", "path": "a"})
    assert (anonymous.status, anonymous.json()) == (401, {"message": "401 Unauthorized"})
    reader = await _create(api, "reader-token", name="R", path="r")
    assert reader.status == 403  # read_api cannot POST
    assert reader.json()["error"] == "insufficient_scope"


async def test_users_who_may_not_create_top_level_groups(api: Api) -> None:
    limited = SeedUser(username="limited", token="limited-token", can_create_group=False)
    api.sim.apply_seed(Seed(users=[limited]))
    r = await _create(api, "limited-token", name="L", path="l")
    assert (r.status, r.json()) == (403, {"message": "403 Forbidden"})


async def test_projects_import_into_a_created_group(api: Api) -> None:
    made = await _create(api, "dev-token", name="Home", path="home")
    assert made.status == 201
    r = await api.import_file(make_archive(), token="dev-token", path="app", namespace="home")
    assert r.status == 201, r.text
    assert r.json()["path_with_namespace"] == "home/app"
    await api.sim.step()
    await api.sim.step()
    status = await api.get("/projects/home%2Fapp/import", "dev-token")
    assert status.json()["import_status"] == "finished"
