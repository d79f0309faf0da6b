"""The Groups API rate limits by release, the request log and fault injection on group routes."""

from __future__ import annotations

import pytest
from sim_helpers import Api, VersionedFactory

GROUP_ENDPOINTS = {
    ("GET", "/api/v4/groups/grp"): "group",
    ("GET", "/api/v4/groups/grp/descendant_groups"): "descendant_groups",
    ("GET", "/api/v4/groups/grp/projects"): "group_projects",
    ("POST", "/api/v4/groups"): "create_group",
    ("POST", "/api/v4/groups/grp/export"): "group_export",
    ("GET", "/api/v4/groups/grp/export/download"): "group_download",
    ("POST", "/api/v4/groups/import"): "group_import",
}


async def test_get_group_limit_counts_per_user_and_before_the_lookup(api: Api) -> None:
    api.sim.update_settings({"instance": {"group_api_limit": 2}})
    assert (await api.get("/groups/grp", "owner-token")).status == 200
    assert (await api.get("/groups/missing", "owner-token")).status == 404  # still counted
    third = await api.get("/groups/grp", "owner-token")
    assert third.status == 429
    assert third.json() == {
        "message": {"error": "This endpoint has been requested too many times. Try again later."}
    }
    assert (await api.get("/groups/grp", "maint-token")).status == 200
    assert (await api.get("/groups/pub")).status == 200  # anonymous: counted per IP address
    assert (await api.get("/groups/pub")).status == 200
    assert (await api.get("/groups/pub")).status == 429


async def test_group_projects_limit(api: Api) -> None:
    api.sim.update_settings({"instance": {"group_projects_api_limit": 1}})
    assert (await api.get("/groups/grp/projects", "owner-token")).status == 200
    assert (await api.get("/groups/grp/projects", "owner-token")).status == 429
    # descendant_groups has no limit of its own
    for _ in range(3):
        assert (await api.get("/groups/grp/descendant_groups", "owner-token")).status == 200


@pytest.mark.parametrize(
    ("version", "flag", "limited"),
    [
        ("17.0", None, False),  # no limit before 17.1
        ("17.11", None, False),  # rate_limit_groups_and_projects_api is off by default
        ("17.11", True, True),
        ("18.1", None, True),  # generally available, the flag is gone
    ],
)
async def test_groups_api_limits_by_release(
    at_version: VersionedFactory, version: str, flag: bool | None, limited: bool
) -> None:
    settings = {"instance": {"group_api_limit": 1}}
    if flag is not None:
        settings["features"] = {"rate_limit_groups_and_projects_api": flag}  # type: ignore[dict-item]
    api = await at_version(version, settings)
    assert (await api.get("/groups/grp", "owner-token")).status == 200
    assert (await api.get("/groups/grp", "owner-token")).status == (429 if limited else 200)


async def test_request_log_names_the_group_endpoints(api: Api) -> None:
    for (method, path), _ in GROUP_ENDPOINTS.items():
        await api.call(method, path.removeprefix("/api/v4"), token="owner-token")
    seen = {(r.method, r.path): r.endpoint for r in api.sim.requests()}
    assert seen == GROUP_ENDPOINTS
    (created,) = api.sim.requests("create_group")
    assert created.user == "owner"


@pytest.mark.parametrize("endpoint", sorted(set(GROUP_ENDPOINTS.values())))
async def test_faults_on_group_endpoints_touch_nothing(api: Api, endpoint: str) -> None:
    api.sim.set_faults({"rules": [{"endpoint": endpoint, "kind": "error", "statuses": [503]}]})
    for (method, path), name in GROUP_ENDPOINTS.items():
        r = await api.call(method, path.removeprefix("/api/v4"), token="owner-token")
        if name == endpoint:
            assert (r.status, r.json()) == (503, {"message": "503 Service Unavailable"})
        else:
            assert r.status != 503
    (record,) = api.sim.requests(endpoint)
    assert record.fault == "error"
    assert api.sim.state.group_export_jobs == [] or endpoint != "group_export"
