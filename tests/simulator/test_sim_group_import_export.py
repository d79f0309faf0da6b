"""Group export, its download, and group import (lib/api/group_export.rb, group_import.rb)."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest
from sim_helpers import Api, VersionedFactory, make_archive, make_group_archive

from gitlab_ferry_testbed.simulator import Simulator

ACCEPTED = {"message": "202 Accepted"}
NOT_READY = {"message": "404 Not found or has expired"}


def _members(archive: bytes) -> dict[str, bytes]:
    """Every regular file of a group export archive, read with tarfile."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar:
            fh = tar.extractfile(member) if member.isfile() else None
            if fh is not None:
                out[member.name.removeprefix("./")] = fh.read()
    return out


SOURCE_TREE = [
    {"id": 10, "name": "Top", "path": "top", "parent_id": None, "visibility_level": 20},
    {"id": 11, "name": "Open", "path": "open", "parent_id": 10, "visibility_level": 20},
    {"id": 12, "name": "Inner", "path": "inner", "parent_id": 10, "visibility_level": 10},
    {"id": 13, "name": "Closed", "path": "closed", "parent_id": 11, "visibility_level": 0},
]


async def _import(api: Api, archive: bytes, token: str = "owner-token", **fields: Any) -> Any:
    fields.setdefault("name", "Imported")
    fields.setdefault("path", "imported")
    return await api.import_file(archive, token=token, endpoint="/groups/import", **fields)


def _visibility(sim: Simulator) -> dict[str, str]:
    return {
        n.full_path: n.visibility
        for n in sim.state.namespaces.values()
        if n.full_path == "imported" or n.full_path.startswith(("imported/", "grp/imported"))
    }


async def test_export_is_ready_only_once_the_job_has_finished(api: Api) -> None:
    posted = await api.post("/groups/grp/export", "owner-token")
    assert (posted.status, posted.json()) == (202, ACCEPTED)
    early = await api.get("/groups/grp/export/download", "owner-token")
    assert (early.status, early.json()) == (404, NOT_READY)
    await api.sim.step()  # queued -> started
    api.sim.reset_rate_limits()
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 404
    await api.sim.step()  # started -> finished
    api.sim.reset_rate_limits()
    ready = await api.get("/groups/grp/export/download", "owner-token")
    assert ready.status == 200
    assert ready.headers["Content-Type"] == "application/octet-stream"
    disposition = ready.headers["Content-Disposition"]
    assert "_grp_export.tar.gz" in disposition
    assert disposition.startswith("attachment;")
    files = _members(ready.body)
    assert files["VERSION"] == b"0.2.4"
    ids = [json.loads(line) for line in files["tree/groups/_all.ndjson"].splitlines()]
    grp, sub = (json.loads(files[f"tree/groups/{i}.json"]) for i in ids)
    assert (grp["path"], grp["parent_id"], sub["path"], sub["parent_id"]) == (
        "grp",
        None,
        "sub",
        grp["id"],
    )
    assert sub["visibility_level"] == 0


async def test_export_needs_an_owner(api: Api) -> None:
    maint = await api.post("/groups/grp/export", "maint-token")
    assert (maint.status, maint.json()) == (403, {"message": "403 Forbidden"})
    hidden = await api.post("/groups/grp/export", "outsider-token")
    assert (hidden.status, hidden.json()) == (404, {"message": "404 Group Not Found"})
    anonymous = await api.post("/groups/pub/export")
    assert anonymous.status == 403
    assert (await api.get("/groups/grp/export/download", "maint-token")).status == 403


async def test_exports_belong_to_their_user(api: Api) -> None:
    assert (await api.post("/groups/grp/export", "owner-token")).status == 202
    await api.sim.step()
    await api.sim.step()
    assert (await api.get("/groups/grp/export/download", "root-token")).status == 404
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 200


async def test_export_and_download_rate_limits(api: Api, clock: Any) -> None:
    for _ in range(6):
        assert (await api.post("/groups/grp/export", "owner-token")).status == 202
    seventh = await api.post("/groups/grp/export", "owner-token")
    assert seventh.status == 429
    assert seventh.json() == {
        "message": {"error": "This endpoint has been requested too many times. Try again later."}
    }
    assert seventh.headers["Retry-After"] == "60"
    assert (await api.post("/groups/grp/export", "root-token")).status == 202  # per user
    # the download is counted before the file is looked for: a 404 uses the allowance
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 404
    again = await api.get("/groups/grp/export/download", "owner-token")
    assert again.status == 429
    assert (await api.get("/groups/grp%2Fsub/export/download", "owner-token")).status == 404
    clock.advance(60)
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 404


async def test_limits_are_settable_and_zero_disables(api: Api) -> None:
    api.sim.update_settings({"instance": {"group_download_export_limit": 0}})
    for _ in range(3):
        assert (await api.get("/groups/grp/export/download", "owner-token")).status == 404


async def test_export_round_trip_between_simulators(api: Api, make_sim: Any) -> None:
    """An export from one simulated GitLab imports into another one: same tree, labels kept."""
    grp = api.sim.state.namespace_by_full_path("grp")
    assert grp is not None
    grp.relations["labels"] = [{"title": "bug", "color": "#FF0000", "type": "GroupLabel"}]
    assert (await api.post("/groups/grp/export", "owner-token")).status == 202
    await api.sim.step()
    await api.sim.step()
    archive = (await api.get("/groups/grp/export/download", "owner-token")).body
    other = Api(api.session, await make_sim())
    r = await _import(other, archive, token="root-token", path="copy", name="Copy")
    assert (r.status, r.json()) == (202, ACCEPTED)
    await other.sim.step()
    await other.sim.step()
    paths = sorted(
        n.full_path for n in other.sim.state.namespaces.values() if n.full_path.startswith("copy")
    )
    assert paths == ["copy", "copy/sub"]
    copy = other.sim.state.namespace_by_full_path("copy")
    assert copy is not None
    assert [label["title"] for label in copy.relations["labels"]] == ["bug"]


async def test_import_creates_the_top_group_at_once_and_subgroups_later(api: Api) -> None:
    r = await _import(api, make_group_archive(SOURCE_TREE))
    assert (r.status, r.json()) == (202, ACCEPTED)
    top = await api.get("/groups/imported", "owner-token")
    assert top.status == 200
    assert (top.json()["name"], top.json()["path"]) == ("Imported", "imported")
    assert (await api.get("/groups/imported/descendant_groups", "owner-token")).json() == []
    await api.sim.step()  # scheduled -> started: the archive is being read
    assert (await api.get("/groups/imported%2Fopen", "owner-token")).status == 404
    await api.sim.step()  # started -> finished
    subgroups = (await api.get("/groups/imported/descendant_groups", "owner-token")).json()
    assert sorted(g["full_path"] for g in subgroups) == [
        "imported/inner",
        "imported/open",
        "imported/open/closed",
    ]
    assert {g["name"] for g in subgroups} == {"Open", "Inner", "Closed"}


async def test_import_follows_the_clock_outside_step_mode(make_sim: Any, session: Any) -> None:
    sim = await make_sim(step_mode=False)
    api = Api(session, sim)
    assert (await _import(api, make_group_archive(SOURCE_TREE))).status == 202
    timing = sim.settings.timing
    sim.advance(timing.group_import_queue_delay)
    await sim.settle()
    assert sim.state.namespace_by_full_path("imported/open") is None
    sim.advance(timing.group_import_duration)
    assert sim.state.namespace_by_full_path("imported/open") is not None


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        # before the fix for issue 405168: the top group is private, subgroups private
        (
            "16.1",
            {"imported": "private", "imported/open": "private", "imported/inner": "private"},
        ),
        # after it: each group keeps its own level (the top group, at the top level, too)
        ("16.2", {"imported": "public", "imported/open": "public", "imported/inner": "internal"}),
    ],
)
async def test_top_level_import_visibility_by_release(
    at_version: VersionedFactory, version: str, expected: dict[str, str]
) -> None:
    api = await at_version(version)
    assert (await _import(api, make_group_archive(SOURCE_TREE))).status == 202
    await api.sim.step()
    await api.sim.step()
    found = _visibility(api.sim)
    assert {k: found[k] for k in expected} == expected
    assert found["imported/open/closed"] == "private"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("16.1", {"grp/imported": "internal", "grp/imported/open": "private"}),
        ("18.7", {"grp/imported": "internal", "grp/imported/open": "internal"}),
    ],
)
async def test_import_into_a_parent_takes_at_most_its_visibility(
    at_version: VersionedFactory, version: str, expected: dict[str, str]
) -> None:
    api = await at_version(version)
    grp = api.sim.state.namespace_by_full_path("grp")
    assert grp is not None
    grp.visibility = "internal"
    r = await _import(api, make_group_archive(SOURCE_TREE), parent_id=grp.id)
    assert r.status == 202
    assert _visibility(api.sim)["grp/imported"] == "internal"  # at once: the parent's level
    await api.sim.step()
    await api.sim.step()
    found = _visibility(api.sim)
    assert {k: found[k] for k in expected} == expected
    assert found["grp/imported/inner"] == ("internal" if version == "18.7" else "private")


async def test_import_refusals(api: Api) -> None:
    archive = make_group_archive(SOURCE_TREE)
    missing = await api.import_file(archive, token="owner-token", endpoint="/groups/import")
    assert (missing.status, missing.json()) == (400, {"error": "path is missing, name is missing"})
    taken = await _import(api, archive, path="grp")
    assert (taken.status, taken.json()) == (
        400,
        {"message": 'Failed to save group {:path=>["has already been taken"]}'},
    )
    grp = api.sim.state.namespace_by_full_path("grp")
    assert grp is not None
    developer = await _import(api, archive, token="dev-token", parent_id=grp.id)
    assert (developer.status, developer.json()) == (403, {"message": "403 Forbidden"})
    hidden = await _import(api, archive, token="outsider-token", parent_id=grp.id)
    assert (hidden.status, hidden.json()) == (404, {"message": "404 Group Not Found"})
    bad_name = await _import(api, archive, filename="x.zip", path="z", name="Z")
    assert bad_name.status == 422
    assert bad_name.json() == {
        "message": {"error": "You need to upload a GitLab project export archive (ending in .gz)."}
    }
    assert api.sim.state.namespace_by_full_path("imported") is None
    assert api.sim.state.group_imports == []


async def test_an_unreadable_archive_fails_later_and_keeps_the_top_group(api: Api) -> None:
    r = await _import(api, make_group_archive(SOURCE_TREE, version=b"0.1.0"))
    assert r.status == 202
    await api.sim.step()
    await api.sim.step()
    (job,) = api.sim.state.group_imports
    assert job.status == "failed"
    assert job.last_error == "Import version mismatch: Required 0.2.4 but was 0.1.0"
    assert (await api.get("/groups/imported", "owner-token")).status == 200
    assert (await api.get("/groups/imported/descendant_groups", "owner-token")).json() == []
    incompatible = await _import(api, make_archive(), path="not-a-group")
    assert incompatible.status == 202
    await api.sim.step()
    await api.sim.step()
    assert api.sim.state.group_imports[-1].last_error == "The import file is incompatible"


@pytest.mark.parametrize(("version", "limited"), [("18.7", False), ("19.0", True)])
async def test_group_import_rate_limit_by_release(
    at_version: VersionedFactory, version: str, limited: bool
) -> None:
    api = await at_version(version)
    archive = make_group_archive(SOURCE_TREE)
    statuses = [(await _import(api, archive, path=f"g{i}")).status for i in range(7)]
    assert statuses == [202] * 6 + [429 if limited else 202]
    assert (await _import(api, archive, token="root-token", path="g-root")).status == 202


async def test_projects_import_into_imported_subgroups(api: Api) -> None:
    assert (await _import(api, make_group_archive(SOURCE_TREE))).status == 202
    await api.sim.step()
    await api.sim.step()
    r = await api.import_file(
        make_archive(), token="owner-token", path="app", namespace="imported/open/closed"
    )
    assert r.status == 201, r.text
    await api.sim.step()
    await api.sim.step()
    status = await api.get("/projects/imported%2Fopen%2Fclosed%2Fapp/import", "owner-token")
    assert status.json()["import_status"] == "finished"


async def test_export_files_expire_after_a_day(api: Api) -> None:
    assert (await api.post("/groups/grp/export", "owner-token")).status == 202
    await api.sim.step()
    await api.sim.step()
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 200
    api.sim.advance(23 * 3600)
    api.sim.reset_rate_limits()
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 200
    api.sim.advance(3 * 3600)  # the first hourly sweep more than 24 h after it was written
    api.sim.reset_rate_limits()
    gone = await api.get("/groups/grp/export/download", "owner-token")
    assert (gone.status, gone.json()) == (404, NOT_READY)


async def test_a_new_export_replaces_the_file_when_it_starts(api: Api) -> None:
    assert (await api.post("/groups/grp/export", "owner-token")).status == 202
    await api.sim.step()
    await api.sim.step()
    assert (await api.post("/groups/grp/export", "owner-token")).status == 202
    # still queued: the worker has not run, the previous file stays downloadable
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 200
    await api.sim.step()
    api.sim.reset_rate_limits()
    assert (await api.get("/groups/grp/export/download", "owner-token")).status == 404
