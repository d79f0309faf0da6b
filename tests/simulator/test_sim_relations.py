"""``POST /projects/import-relation`` and ``GET /projects/:id/relation-imports`` (§9)."""

from __future__ import annotations

from sim_helpers import Api, issues, make_archive

from gitlab_ferry_testbed.simulator.clock import ManualClock

TRACKER_KEYS = {"id", "project_path", "relation", "status", "created_at", "updated_at"}
EXT = {"message": {"error": "You need to upload a GitLab project export archive (ending in .gz)."}}


async def relation(
    api: Api,
    archive: bytes | None = None,
    *,
    token: str = "maint-token",
    path: str = "grp/proj",
    rel: str = "issues",
    filename: str = "r.tar.gz",
) -> object:
    return await api.import_file(
        archive if archive is not None else make_archive(relations={"issues": issues(3)}),
        token=token,
        endpoint="/projects/import-relation",
        filename=filename,
        path=path,
        relation=rel,
    )


async def test_check_order(api: Api) -> None:
    r = await api.post("/projects/import-relation", "maint-token", data={"x": "1"})
    assert (r.status, r.json()) == (
        400,
        {"error": "path is missing, file is missing, relation is missing"},
    )
    api.sim.update_settings({"instance": {"import_sources": []}})
    r = await relation(api, filename="x.zip", path="no/such")
    assert (r.status, r.json()) == (403, {"message": "403 Forbidden"})
    api.sim.update_settings({"instance": {"import_sources": ["gitlab_project"]}})
    r = await relation(api, filename="x.zip", path="no/such")
    assert (r.status, r.json()) == (422, EXT)
    r = await relation(api, path="no/such", rel="wikis")
    assert (r.status, r.json()) == (404, {"message": "Project not found"})
    r = await relation(api, token="dev-token", rel="wikis")
    assert (r.status, r.json()) == (
        400,
        {
            "message": (
                "Imported relation must be one of issues, merge_requests, milestones, "
                "or ci_pipelines"
            )
        },
    )
    r = await relation(api, token="dev-token")
    assert (r.status, r.json()) == (
        403,
        {"message": "You are not authorized to perform this action"},
    )


async def test_created_does_not_block_started_does(api: Api) -> None:
    first = await relation(api)
    assert first.status == 201
    body = first.json()
    assert set(body) == TRACKER_KEYS
    assert (body["status"], body["relation"], body["project_path"]) == (
        "created",
        "issues",
        "grp/proj",
    )
    assert (await relation(api)).status == 201
    await api.sim.step()
    busy = await relation(api)
    assert (busy.status, busy.json()) == (
        409,
        {"message": "A relation import is already in progress for this project"},
    )
    await api.sim.step()
    assert (await relation(api, rel="milestones")).status == 201


async def test_blocked_by_project_import(api: Api) -> None:
    r = await api.import_file(make_archive(), path="fresh", namespace="grp")
    assert r.status == 201
    scheduled = await relation(api, path="grp/fresh", token="root-token")
    assert (scheduled.status, scheduled.json()) == (
        400,
        {
            "message": (
                "Relation import could not be created: "
                "Relation import tracker cannot be created for project with ongoing import"
            )
        },
    )
    await api.sim.step()
    started = await relation(api, path="grp/fresh", token="root-token")
    assert started.status == 409


async def test_tracker_lifecycle_skips_existing_iids(api: Api) -> None:
    before = (await api.sim.project_summary("grp/proj"))["content"]["relations"]["issues"]
    assert before == 5
    records = [*issues(7), {"iid": 8, "title": None}]
    r = await relation(
        api,
        make_archive(relations={"issues": records, "milestones": [{"iid": 9, "title": "ignored"}]}),
    )
    tracker_id = r.json()["id"]
    await api.sim.step()
    listing = await api.get("/projects/grp%2Fproj/relation-imports", "maint-token")
    assert [t["status"] for t in listing.json()] == ["started"]
    await api.sim.step()
    listing = await api.get("/projects/grp%2Fproj/relation-imports", "maint-token")
    (tracker,) = listing.json()
    assert (tracker["id"], tracker["status"]) == (tracker_id, "finished")
    assert set(tracker) == TRACKER_KEYS
    content = (await api.sim.project_summary("grp/proj"))["content"]
    assert content["relations"]["issues"] == 7
    assert content["relations"]["milestones"] == 2
    project = api.sim.project("grp/proj")
    assert project is not None
    titles = {i["iid"]: i["title"] for i in project.content.relations["issues"]}
    assert titles[6] == "Issue 6"
    assert titles[1] != "Issue 1"
    status = (await api.get("/projects/grp%2Fproj/import", "maint-token")).json()
    assert status["failed_relations"] == []


async def test_failures_end_failed(api: Api) -> None:
    await relation(api, make_archive(version=b"0.1.0"))
    await api.sim.step()
    await api.sim.step()
    api.sim.set_faults({"jobs": [{"job": "relation_import", "mode": "fail"}]})
    await relation(api)
    await api.sim.step()
    await api.sim.step()
    listing = (await api.get("/projects/grp%2Fproj/relation-imports", "maint-token")).json()
    assert [t["status"] for t in listing] == ["failed", "failed"]


async def test_stale_tracker_stops_blocking(api: Api, clock: ManualClock) -> None:
    api.sim.set_faults({"jobs": [{"job": "relation_import", "mode": "stuck", "count": 1}]})
    await relation(api)
    await api.sim.step()
    assert (await relation(api)).status == 409
    clock.advance(24 * 3600 + 1)
    api.sim.reset_rate_limits()
    assert (await relation(api)).status == 201


async def test_listing_needs_admin_project(api: Api) -> None:
    public = await api.get("/projects/pub%2Fopen/relation-imports", "dev-token")
    assert (public.status, public.json()) == (403, {"message": "403 Forbidden - Project"})
    private = await api.get("/projects/grp%2Fproj/relation-imports", "outsider-token")
    assert (private.status, private.json()) == (404, {"message": "404 Project Not Found"})
    developer = await api.get("/projects/grp%2Fproj/relation-imports", "dev-token")
    assert developer.status == 403
    empty = await api.get("/projects/grp%2Fproj/relation-imports", "maint-token")
    assert (empty.status, empty.json()) == (200, [])
