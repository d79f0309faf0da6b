"""Routing, ``:id`` resolution and the helper endpoints (reference §1.3)."""

from __future__ import annotations

from sim_helpers import Api

from gitlab_ferry_testbed.simulator import Simulator


async def test_numeric_and_encoded_ids_resolve_to_the_same_project(api: Api) -> None:
    by_id = await api.get("/projects/1", "root-token")
    by_path = await api.get("/projects/grp%2Fproj", "root-token")
    lower = await api.get("/projects/GRP%2FPROJ", "root-token")
    assert by_id.status == by_path.status == lower.status == 200
    assert by_id.json()["id"] == by_path.json()["id"] == lower.json()["id"] == 1
    assert by_path.json()["path_with_namespace"] == "grp/proj"


async def test_literal_slash_in_id_is_the_unknown_route_404(api: Api) -> None:
    for method, path in [
        ("GET", "/projects/grp/proj/export"),
        ("POST", "/projects/grp/proj/export"),
        ("GET", "/projects/grp/proj/export/download"),
        ("GET", "/projects/grp/proj/import"),
    ]:
        r = await api.call(method, path, token="root-token")
        assert (r.status, r.json()) == (404, {"error": "404 Not Found"})
    assert api.sim.requests()[-1].endpoint is None


async def test_name_without_slash_is_project_not_found(api: Api) -> None:
    r = await api.get("/projects/proj/export", "root-token")
    assert (r.status, r.json()) == (404, {"message": "404 Project Not Found"})
    r = await api.get("/projects/9999/export", "root-token")
    assert (r.status, r.json()) == (404, {"message": "404 Project Not Found"})


async def test_unknown_api_route(api: Api) -> None:
    r = await api.get("/nothing/here", "root-token")
    assert (r.status, r.json()) == (404, {"error": "404 Not Found"})
    r = await api.call("PUT", "/projects/1/export", token="root-token")
    assert (r.status, r.json()) == (404, {"error": "404 Not Found"})


async def test_deleted_project_is_not_found(api: Api) -> None:
    maint = await api.delete("/projects/grp%2Fproj", "maint-token")
    assert (maint.status, maint.json()) == (403, {"message": "403 Forbidden"})
    outsider = await api.delete("/projects/grp%2Fproj", "outsider-token")
    assert outsider.status == 404
    r = await api.delete("/projects/grp%2Fproj", "owner-token")
    assert (r.status, r.json()) == (202, {"message": "202 Accepted"})
    gone = await api.get("/projects/1", "root-token")
    assert (gone.status, gone.json()) == (404, {"message": "404 Project Not Found"})
    assert (await api.get("/projects/grp%2Fproj/export", "root-token")).status == 404
    api.sim.tick()
    assert api.sim.project(1) is None


async def test_moved_project_301_for_get_405_otherwise(api: Api, session: object) -> None:
    project = api.sim.project("grp/proj")
    assert project is not None
    api.sim.state.redirects["grp/old-name"] = project.id
    r = await api.get("/projects/grp%2Fold-name/export?x=1", "root-token")
    assert r.status == 301
    assert r.headers["Location"] == f"{api.sim.url}/api/v4/projects/1/export?x=1"
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text.startswith("This resource has been moved permanently to ")
    post = await api.post("/projects/grp%2Fold-name/export", "root-token")
    assert post.status == 405
    assert post.json() == {"message": "Non GET methods are not allowed for moved projects"}


async def test_head_is_served_like_get(api: Api) -> None:
    r = await api.call("HEAD", "/projects/1", token="root-token")
    assert r.status == 200
    assert r.body == b""


async def test_project_entity(api: Api, sim: Simulator) -> None:
    body = (await api.get("/projects/grp%2Fproj", "maint-token")).json()
    assert body["name"] == "Proj"
    assert body["name_with_namespace"] == "Group / Proj"
    assert body["description"] == "Private project"
    assert body["created_at"] == "2020-01-02T03:04:05.678Z"
    assert body["visibility"] == "private"
    assert body["import_status"] == "none"
    assert body["import_type"] is None
    assert body["namespace"] == {
        "id": body["namespace"]["id"],
        "name": "Group",
        "path": "grp",
        "kind": "group",
        "full_path": "grp",
        "parent_id": None,
        "avatar_url": None,
        "web_url": f"{sim.url}/groups/grp",
    }
    assert body["web_url"] == f"{sim.url}/grp/proj"
    assert body["permissions"]["group_access"]["access_level"] == 40


async def test_projects_search_and_pagination(api: Api) -> None:
    r = await api.get("/projects?search=o", "root-token")
    names = [p["path_with_namespace"] for p in r.json()]
    assert set(names) == {"grp/proj", "pub/open", "grp/other"}
    assert r.headers["X-Total"] == "3"
    page = await api.get("/projects?search=o&per_page=2&page=2&order_by=id&sort=asc", "root-token")
    assert [p["id"] for p in page.json()] == [4]
    assert page.headers["X-Page"] == "2"
    assert page.headers["X-Prev-Page"] == "1"
    assert page.headers["X-Next-Page"] == ""
    assert 'rel="first"' in page.headers["Link"]
    anonymous = await api.get("/projects")
    assert [p["path_with_namespace"] for p in anonymous.json()] == ["pub/open"]
    outsider = await api.get("/projects", "outsider-token")
    assert [p["path_with_namespace"] for p in outsider.json()] == ["pub/open"]
    deep = await api.get("/projects?search=sub%2Fdeep&search_namespaces=true", "owner-token")
    assert [p["path_with_namespace"] for p in deep.json()] == ["grp/sub/deep"]


async def test_namespaces(api: Api) -> None:
    r = await api.get("/namespaces/grp%2Fsub", "maint-token")
    assert r.status == 200
    body = r.json()
    assert (body["kind"], body["full_path"], body["path"], body["name"]) == (
        "group",
        "grp/sub",
        "sub",
        "Sub",
    )
    by_id = await api.get(f"/namespaces/{body['id']}", "maint-token")
    assert by_id.json() == body
    user_ns = await api.get("/namespaces/maint", "maint-token")
    assert user_ns.json()["kind"] == "user"
    hidden = await api.get("/namespaces/grp", "outsider-token")
    assert (hidden.status, hidden.json()) == (404, {"message": "404 Namespace Not Found"})
    other_user = await api.get("/namespaces/dev", "maint-token")
    assert other_user.status == 404
    assert (await api.get("/namespaces/grp")).status == 401


async def test_user_entity(api: Api) -> None:
    body = (await api.get("/user", "dev-token")).json()
    assert body["username"] == "dev"
    assert isinstance(body["id"], int)
    assert body["state"] == "active"
    for key in ("name", "avatar_url", "web_url", "created_at", "email"):
        assert key in body
