"""The administrators' Features API (``/features``) and the flag state it shares with seeds."""

from __future__ import annotations

from sim_helpers import Api, VersionedFactory

S3_FLAG = "import_project_from_remote_file_s3"


async def test_admins_only(api: Api) -> None:
    for method in ("GET", "POST", "DELETE"):
        path = "/features" if method == "GET" else f"/features/{S3_FLAG}"
        anonymous = await api.call(method, path, json={"value": True})
        assert (anonymous.status, anonymous.json()) == (401, {"message": "401 Unauthorized"})
        owner = await api.call(method, path, token="owner-token", json={"value": True})
        assert (owner.status, owner.json()) == (403, {"message": "403 Forbidden"})
    assert api.sim.settings.features == {}


async def test_set_returns_the_feature_entity(at_version: VersionedFactory) -> None:
    api = await at_version("14.10.0")
    r = await api.post(f"/features/{S3_FLAG}", "root-token", json={"value": True})
    assert r.status == 201
    assert r.json() == {
        "name": S3_FLAG,
        "state": "on",
        "gates": [{"key": "boolean", "value": True}],
        "definition": {
            "name": S3_FLAG,
            "introduced_by_url": "https://gitlab.com/gitlab-org/gitlab/-/merge_requests/77259",
            "rollout_issue_url": "https://gitlab.com/gitlab-org/gitlab/-/issues/350571",
            "milestone": "14.9",
            "log_state_changes": None,
            "type": "development",
            "group": "group::import",
            "default_enabled": False,
        },
    }
    assert api.sim.settings.features == {S3_FLAG: True}


async def test_a_removed_or_unknown_flag_has_no_definition(api: Api) -> None:
    for name in (S3_FLAG, "no_such_flag"):
        r = await api.post(f"/features/{name}", "root-token", data={"value": "false"})
        assert r.status == 201
        assert r.json()["definition"] is None
        assert r.json()["state"] == "off"


async def test_values_as_gitlab_reads_them(api: Api) -> None:
    cases = [
        ("true", "on", [{"key": "boolean", "value": True}]),
        ("100", "on", [{"key": "boolean", "value": True}]),
        ("0", "off", [{"key": "boolean", "value": False}]),
        (
            "30",
            "conditional",
            [{"key": "boolean", "value": False}, {"key": "percentage_of_time", "value": 30}],
        ),
    ]
    for value, state, gates in cases:
        r = await api.post("/features/f", "root-token", data={"value": value})
        assert (r.json()["state"], r.json()["gates"]) == (state, gates), value
    bad = await api.post("/features/f", "root-token", data={"value": "maybe"})
    assert (bad.status, bad.json()) == (
        400,
        {"message": "400 Bad request - Cannot set 'f' to \"maybe\""},
    )
    missing = await api.post("/features/f", "root-token", json={})
    assert (missing.status, missing.json()) == (400, {"error": "value is missing"})
    actor = await api.post("/features/f", "root-token", json={"value": True, "user": "dev"})
    assert actor.status == 400
    assert api.sim.settings.features == {"f": 30}


async def test_list_and_delete(at_version: VersionedFactory) -> None:
    api = await at_version("16.11.0")
    for name in ("single_relation_import", "another_flag"):
        await api.post(f"/features/{name}", "root-token", json={"value": True})
    listed = await api.get("/features", "root-token")
    assert [f["name"] for f in listed.json()] == ["another_flag", "single_relation_import"]
    relations = await api.get("/projects/grp%2Fproj/relation-imports", "root-token")
    assert relations.status == 200
    gone = await api.delete("/features/single_relation_import", "root-token")
    assert (gone.status, gone.body) == (204, b"")
    assert [f["name"] for f in (await api.get("/features", "root-token")).json()] == [
        "another_flag"
    ]
    relations = await api.get("/projects/grp%2Fproj/relation-imports", "root-token")
    assert relations.status == 404  # back to the flag's default: off


async def test_definitions_follow_the_release(at_version: VersionedFactory) -> None:
    old = await (await at_version("14.10.0")).get("/features/definitions", "root-token")
    assert {d["name"]: d["default_enabled"] for d in old.json()} == {
        "import_project_from_remote_file": True,
        S3_FLAG: False,
    }
    new = await (await at_version("18.7.0")).get("/features/definitions", "root-token")
    assert [d["name"] for d in new.json()] == ["import_project_from_remote_file"]


async def test_seed_settings_persist_flags(at_version: VersionedFactory) -> None:
    api = await at_version("16.11.0", {"features": {"single_relation_import": True}})
    assert (await api.get("/projects/grp%2Fproj/relation-imports", "root-token")).status == 200
    listed = (await api.get("/features", "root-token")).json()
    assert [(f["name"], f["state"]) for f in listed] == [("single_relation_import", "on")]


async def test_a_percentage_gate_opens_some_of_the_checks(at_version: VersionedFactory) -> None:
    api = await at_version("16.11.0", {"features": {"single_relation_import": 50}})
    statuses = {
        (await api.get("/projects/grp%2Fproj/relation-imports", "root-token")).status
        for _ in range(40)
    }
    assert statuses == {200, 404}
