"""``POST /projects/import`` and the asynchronous import (§5, §8, §11)."""

from __future__ import annotations

import hashlib
import random
import re

import aiohttp
import pytest
from sim_helpers import Api, SimFactory, issues, make_archive

from gitlab_ferry_testbed.simulator.clock import ManualClock

IMPORT_STATUS_KEYS = {
    "id",
    "description",
    "name",
    "name_with_namespace",
    "path",
    "path_with_namespace",
    "created_at",
    "import_status",
    "import_type",
    "correlation_id",
    "failed_relations",
    "import_error",
    "stats",
}


async def finish(api: Api) -> None:
    await api.sim.step()
    await api.sim.step()


async def import_status(api: Api, ref: str | int, token: str = "root-token") -> dict[str, object]:
    r = await api.get(f"/projects/{ref}/import", token)
    assert r.status == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_import_lifecycle_and_201_body(api: Api) -> None:
    bundle = b"# v2 git bundle\n" + bytes(range(256)) * 10
    archive = make_archive(
        relations={"issues": issues(3), "labels": [{"title": "bug"}]}, bundle=bundle
    )
    r = await api.import_file(archive, token="maint-token", path="imported", namespace="grp")
    assert r.status == 201
    body = r.json()
    assert set(body) == IMPORT_STATUS_KEYS
    assert body["import_status"] == "scheduled"
    assert body["import_type"] == "gitlab_project"
    assert isinstance(body["correlation_id"], str)
    assert body["correlation_id"]
    assert (body["failed_relations"], body["import_error"], body["stats"]) == ([], None, None)
    assert (body["name"], body["path"], body["path_with_namespace"]) == (
        "imported",
        "imported",
        "grp/imported",
    )
    assert body["description"] is None
    assert r.headers["Content-Type"] == "application/json"
    assert (await import_status(api, "grp%2Fimported"))["import_status"] == "scheduled"
    await api.sim.step()
    assert (await import_status(api, body["id"]))["import_status"] == "started"
    await api.sim.step()
    done = await import_status(api, body["id"])
    assert done["import_status"] == "finished"
    assert done["correlation_id"] == body["correlation_id"]
    summary = (await api.sim.project_summary("grp/imported"))["content"]
    assert summary["relations"] == {"issues": 3, "labels": 1}
    assert summary["repository_sha256"] == hashlib.sha256(bundle).hexdigest()
    assert summary["description"] == "from archive"
    assert list(api.sim.core.dirs.uploads.iterdir()) == []


async def test_parameter_errors(api: Api) -> None:
    r = await api.post("/projects/import", "root-token", data={"name": "x"})
    assert (r.status, r.json()) == (400, {"error": "path is missing, file is missing"})
    r = await api.import_file(make_archive(), path="x", namespace="grp", namespace_id="1")
    assert (r.status, r.json()) == (
        400,
        {"error": "namespace, namespace_id, namespace_path are mutually exclusive"},
    )
    r = await api.import_file(make_archive(), path="x", namespace_id="abc")
    assert (r.status, r.json()) == (400, {"error": "namespace_id is invalid"})
    r = await api.import_file(make_archive(), path="x", overwrite="maybe")
    assert (r.status, r.json()) == (400, {"error": "overwrite is invalid"})


async def test_check_order(api: Api) -> None:
    api.sim.update_settings({"instance": {"import_sources": ["github"]}})
    missing = await api.post("/projects/import", "root-token", data={"path": "x"})
    assert missing.json() == {"error": "file is missing"}
    disabled = await api.import_file(make_archive(), filename="x.zip", path="x")
    assert (disabled.status, disabled.json()) == (403, {"message": "403 Forbidden"})
    api.sim.update_settings({"instance": {"import_sources": ["gitlab_project"]}})
    ext = await api.import_file(make_archive(), filename="x.zip", path="x", namespace="nope")
    assert (ext.status, ext.json()) == (
        422,
        {
            "message": {
                "error": "You need to upload a GitLab project export archive (ending in .gz)."
            }
        },
    )
    ns = await api.import_file(make_archive(), path="proj", namespace="nope")
    assert (ns.status, ns.json()) == (404, {"message": "404 Namespace Not Found"})
    hidden = await api.import_file(
        make_archive(), token="outsider-token", path="x", namespace="grp"
    )
    assert hidden.json() == {"message": "404 Namespace Not Found"}
    invalid = await api.import_file(make_archive(), token="dev-token", path="proj", namespace="grp")
    assert (invalid.status, invalid.json()) == (400, {"message": "Namespace is not valid"})
    taken = await api.import_file(make_archive(), path="proj", namespace="grp")
    assert (taken.status, taken.json()) == (400, {"message": "Path has already been taken"})
    bad_path = await api.import_file(make_archive(), path="-bad", name="Fine", namespace="grp")
    assert bad_path.status == 400
    assert bad_path.json()["message"].startswith("Path can contain only letters")
    assert len(api.sim.state.projects) == 4
    assert list(api.sim.core.dirs.uploads.iterdir()) == []


@pytest.mark.parametrize("filename", ["export.tar.gz", "x.gz", "GZ.gz"])
async def test_gz_names_are_accepted(api: Api, filename: str) -> None:
    r = await api.import_file(make_archive(), filename=filename, path="ok")
    assert r.status == 201


@pytest.mark.parametrize(
    ("fields", "full_path"),
    [
        ({}, "root/target"),
        ({"namespace": "grp/sub"}, "grp/sub/target"),
        ({"namespace": "GRP/SUB"}, "grp/sub/target"),
        ({"namespace_path": "grp/sub"}, "grp/sub/target"),
        ({"namespace_id": "NSID"}, "grp/sub/target"),
        ({"namespace": "NSID"}, "grp/sub/target"),
    ],
)
async def test_namespace_parameters(api: Api, fields: dict[str, str], full_path: str) -> None:
    ns = api.sim.state.namespace_by_full_path("grp/sub")
    assert ns is not None
    fields = {k: str(ns.id) if v == "NSID" else v for k, v in fields.items()}
    r = await api.import_file(make_archive(), path="target", **fields)
    assert r.status == 201, r.text
    assert r.json()["path_with_namespace"] == full_path


async def test_old_profile_ignores_namespace_path(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim({"profile": {"namespace_id_params": False}})
    api = Api(session, sim)
    r = await api.import_file(make_archive(), path="t", namespace="grp", namespace_path="grp/sub")
    assert r.json()["path_with_namespace"] == "grp/t"


async def test_name_and_override_params(api: Api) -> None:
    r = await api.import_file(
        make_archive(),
        token="maint-token",
        path="over",
        name="Pretty Name",
        namespace="pub",
        **{
            "override_params[description]": "overridden",
            "override_params[visibility]": "internal",
            "override_params[no_such_attribute]": "dropped",
        },
    )
    assert r.status == 201, r.text
    body = r.json()
    assert (body["name"], body["description"]) == ("Pretty Name", "overridden")
    await finish(api)
    project = api.sim.project("pub/over")
    assert project is not None
    assert (project.description, project.visibility) == ("overridden", "internal")
    assert "no_such_attribute" not in project.attributes
    bad = await api.import_file(make_archive(), path="x", **{"override_params[visibility]": "x"})
    assert (bad.status, bad.json()) == (
        400,
        {"error": "override_params[visibility] does not have a valid value"},
    )
    too_open = await api.import_file(
        make_archive(), path="y", namespace="grp", **{"override_params[visibility]": "public"}
    )
    assert too_open.json() == {
        "message": "Visibility level public is not allowed in a private group."
    }


async def test_archive_values_apply_without_overrides(api: Api) -> None:
    archive = make_archive(
        project_json={"description": "kept", "visibility_level": 20, "name": "ignored"}
    )
    await api.import_file(archive, path="plain", namespace="pub", token="maint-token")
    await finish(api)
    project = api.sim.project("pub/plain")
    assert project is not None
    assert (project.name, project.description, project.visibility) == ("plain", "kept", "public")


@pytest.mark.parametrize(
    ("archive", "inner"),
    [
        (make_archive(version=b"0.2.3"), "Import version mismatch: Required 0.2.4 but was 0.2.3"),
        (make_archive(version=b"abc"), "Incorrect VERSION format"),
        (make_archive(version=None), "No such file or directory @ rb_sysopen - [FILTERED]"),
        (make_archive(tree=False), "invalid import format"),
        (make_archive(symlink_project_json=True), "Invalid file"),
        (make_archive(project_json=["not", "an", "object"]), "Incorrect JSON format"),
        (make_archive(hard_link=True), "File shares hard link"),
        (b"this is not gzip", "Unable to decompress [FILTERED] into [FILTERED]"),
    ],
)
async def test_archive_validation_is_asynchronous(api: Api, archive: bytes, inner: str) -> None:
    r = await api.import_file(archive, path="bad", namespace="grp")
    assert r.status == 201
    await finish(api)
    body = await import_status(api, "grp%2Fbad")
    assert body["import_status"] == "failed"
    assert body["import_error"] == f"Error importing repository  into grp/bad - {inner}"
    assert list(api.sim.core.dirs.repos.iterdir()) == []


async def test_version_compares_like_gem_version(api: Api) -> None:
    await api.import_file(make_archive(version=b"0.2.4.0\n"), path="ok", namespace="grp")
    await finish(api)
    assert (await import_status(api, "grp%2Fok"))["import_status"] == "finished"


async def test_decompressed_size_cap(api: Api) -> None:
    api.sim.update_settings({"instance": {"max_decompressed_archive_size": 1}})
    await api.import_file(make_archive(bundle=b"\0" * (2 << 20)), path="huge", namespace="grp")
    await finish(api)
    body = await import_status(api, "grp%2Fhuge")
    assert body["import_error"] == (
        "Error importing repository  into grp/huge - Decompressed archive size validation failed."
    )


async def test_symlinks_are_dropped_silently(api: Api) -> None:
    archive = make_archive(
        extra={"./uploads/readme.txt": b"hello"},
        symlinks={"./uploads/passwd": "/etc/passwd", "./VERSION.link": "VERSION"},
        fifo="./uploads/pipe",
    )
    await api.import_file(archive, path="links", namespace="grp")
    await finish(api)
    assert (await import_status(api, "grp%2Flinks"))["import_status"] == "finished"


async def test_upload_over_max_import_size_is_413(api: Api) -> None:
    api.sim.update_settings({"instance": {"max_import_size": 1}})
    noise = random.Random(7).randbytes(2 << 20)
    r = await api.import_file(make_archive(bundle=noise), path="big", namespace="grp")
    assert (r.status, r.json()) == (413, {"message": "413 Request Entity Too Large"})
    assert api.sim.project("grp/big") is None
    assert list(api.sim.core.dirs.uploads.iterdir()) == []


async def test_import_error_visibility(api: Api) -> None:
    await api.import_file(
        make_archive(version=b"9"), token="maint-token", path="f", namespace="grp"
    )
    await finish(api)
    assert (await import_status(api, "grp%2Ff", "maint-token"))["import_error"].startswith(
        "Error importing repository"
    )
    hidden = await import_status(api, "grp%2Ff", "dev-token")
    assert hidden["import_error"] == "Ask a maintainer to check the import status for more details."


async def test_failed_relations_and_finished(api: Api) -> None:
    records = [*issues(3), {"iid": 4, "title": None}, {"iid": 5}, {"iid": 6, "title": ""}]
    await api.import_file(make_archive(relations={"issues": records}), path="fr", namespace="grp")
    await finish(api)
    body = await import_status(api, "grp%2Ffr")
    assert body["import_status"] == "finished"
    failed = body["failed_relations"]
    assert [f["line_number"] for f in failed] == [5, 4, 3]
    for entry in failed:
        assert set(entry) == {
            "id",
            "created_at",
            "exception_class",
            "exception_message",
            "source",
            "relation_name",
            "line_number",
        }
        assert entry["exception_class"] == "ActiveRecord::RecordInvalid"
        assert entry["exception_message"] is None
        assert entry["source"] == "process_relation_item!"
        assert entry["relation_name"] == "issues"
        assert isinstance(entry["id"], int)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["created_at"])
    summary = (await api.sim.project_summary("grp/fr"))["content"]
    assert summary["relations"]["issues"] == 3


async def test_failed_relations_capped_at_100(api: Api) -> None:
    records = [{"iid": i, "title": None} for i in range(1, 151)]
    await api.import_file(make_archive(relations={"issues": records}), path="cap", namespace="grp")
    await finish(api)
    body = await import_status(api, "grp%2Fcap")
    assert len(body["failed_relations"]) == 100
    assert body["import_status"] == "finished"


async def test_overwrite_false_keeps_everything(api: Api) -> None:
    r = await api.import_file(make_archive(), path="proj", namespace="grp", overwrite="false")
    assert r.json() == {"message": "Path has already been taken"}
    assert len(api.sim.state.projects) == 4


async def test_overwrite_success(api: Api) -> None:
    api.sim.update_settings({"timing": {"deletion_delay": 100}})
    old = api.sim.project("grp/proj")
    assert old is not None
    r = await api.import_file(
        make_archive(relations={"issues": issues(7)}),
        token="owner-token",
        path="proj",
        namespace="grp",
        overwrite="true",
    )
    assert r.status == 201
    body = r.json()
    assert re.fullmatch(r"proj-[0-9a-f]{32}", body["path"])
    assert body["path_with_namespace"] == f"grp/{body['path']}"
    assert body["id"] != old.id
    during = await api.get("/projects/grp%2Fproj", "root-token")
    assert during.json()["id"] == old.id
    await finish(api)
    after = await api.get("/projects/grp%2Fproj", "root-token")
    assert after.json()["id"] == body["id"]
    assert after.json()["name"] == "Proj"
    assert (await api.get(f"/projects/{old.id}", "root-token")).status == 404
    assert re.fullmatch(r"proj-old-[0-9a-f]{32}", old.path)
    assert old.pending_delete
    summary = (await api.sim.project_summary(body["id"]))["content"]
    assert summary["relations"]["issues"] == 7
    api.sim.advance(100)
    assert api.sim.project(old.id) is None


async def test_overwrite_without_admin_namespace_fails(api: Api) -> None:
    old = api.sim.project("grp/proj")
    assert old is not None
    r = await api.import_file(
        make_archive(), token="maint-token", path="proj", namespace="grp", overwrite="true"
    )
    temp = r.json()
    await finish(api)
    body = await import_status(api, temp["id"], "maint-token")
    assert body["import_status"] == "failed"
    maint = api.sim.state.user_by_username("maint")
    assert maint is not None
    assert body["import_error"] == (
        f"Error importing repository  into {temp['path_with_namespace']} - "
        f"User maint ({maint.id}) cannot overwrite a project in grp"
    )
    assert api.sim.project("grp/proj") is old
    assert old.path == "proj"


async def test_overwrite_failure_leaves_old_project(api: Api) -> None:
    r = await api.import_file(
        make_archive(version=b"0.1"), path="proj", namespace="grp", overwrite="true"
    )
    temp = r.json()
    await finish(api)
    assert (await import_status(api, temp["id"]))["import_status"] == "failed"
    assert (await api.get("/projects/grp%2Fproj", "root-token")).json()["id"] == 1
    assert api.sim.project(temp["id"]) is not None


async def test_stuck_import_fails_after_24_hours(api: Api, clock: ManualClock) -> None:
    api.sim.set_faults({"jobs": [{"job": "import", "mode": "stuck"}]})
    await api.import_file(make_archive(), path="slow", namespace="grp")
    await finish(api)
    assert (await import_status(api, "grp%2Fslow"))["import_status"] == "started"
    clock.advance(86400)
    assert (await import_status(api, "grp%2Fslow"))["import_status"] == "started"
    clock.advance(1)
    body = await import_status(api, "grp%2Fslow")
    assert body["import_status"] == "failed"
    assert body["import_error"] == "Import timed out. Import took longer than 86400 seconds"


async def test_injected_import_failure(api: Api) -> None:
    api.sim.set_faults({"jobs": [{"job": "import", "mode": "fail", "message": "boom", "count": 1}]})
    await api.import_file(make_archive(), path="one", namespace="grp")
    await api.import_file(make_archive(), path="two", namespace="grp")
    await finish(api)
    assert (await import_status(api, "grp%2Fone"))["import_error"] == (
        "Error importing repository  into grp/one - boom"
    )
    assert (await import_status(api, "grp%2Ftwo"))["import_status"] == "finished"


async def test_time_mode_import(
    make_sim: SimFactory, session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    sim = await make_sim(
        {"timing": {"import_queue_delay": 2, "import_duration": 30}}, step_mode=False
    )
    api = Api(session, sim)
    await api.import_file(make_archive(), path="timed", namespace="grp")
    clock.advance(2)
    assert (await import_status(api, "grp%2Ftimed"))["import_status"] == "started"
    await sim.settle()
    assert (await import_status(api, "grp%2Ftimed"))["import_status"] == "started"
    clock.advance(30)
    await sim.settle()
    assert (await import_status(api, "grp%2Ftimed"))["import_status"] == "finished"


async def test_token_in_query_for_multipart(api: Api) -> None:
    archive = make_archive()
    form = aiohttp.FormData()
    form.add_field("path", "q")
    form.add_field("file", archive, filename="a.tar.gz")
    r = await api.call("POST", "/projects/import", token="maint-token", via="param", data=form)
    assert r.status == 201
    record = api.sim.requests("import")[-1]
    assert (record.user, record.auth) == ("maint", "param")
    assert record.params == {"path": "q", "file": {"filename": "a.tar.gz", "size": len(archive)}}


async def test_import_sources_gate_every_import_route(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim({"profile": {"import_sources_default": "none"}})
    api = Api(session, sim)
    forbidden = (403, {"message": "403 Forbidden"})
    r = await api.import_file(make_archive(), path="new")
    assert (r.status, r.json()) == forbidden
    r = await api.post(
        "/projects/remote-import",
        "root-token",
        json={"url": "https://example.com/a.tar.gz", "path": "new"},
    )
    assert (r.status, r.json()) == forbidden
    for path in ("/projects/1/import", "/projects/1/relation-imports"):
        r = await api.get(path, "root-token")
        assert (r.status, r.json()) == forbidden
    sim.update_settings({"instance": {"import_sources": ["gitlab_project"]}})
    assert (await api.import_file(make_archive(), path="new")).status == 201
