"""Export: state machine, per-user state, POST side effects, download, retention (§2-§4)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile

import aiohttp
import pytest
from sim_helpers import Api, SimFactory

from gitlab_ferry_testbed.simulator.clock import ManualClock

P = "/projects/grp%2Fproj"
IDENTITY_KEYS = {
    "id",
    "description",
    "name",
    "name_with_namespace",
    "path",
    "path_with_namespace",
    "created_at",
}


async def status(api: Api, token: str = "maint-token", project: str = P) -> str:
    r = await api.get(f"{project}/export", token)
    assert r.status == 200, r.text
    value: str = r.json()["export_status"]
    return value


async def test_state_machine_and_body(api: Api) -> None:
    none = (await api.get(f"{P}/export", "maint-token")).json()
    assert set(none) == IDENTITY_KEYS | {"export_status"}
    assert none["export_status"] == "none"
    assert none["created_at"] == "2020-01-02T03:04:05.678Z"
    assert (await api.post(f"{P}/export", "maint-token")).json() == {"message": "202 Accepted"}
    assert await status(api) == "queued"
    await api.sim.step()
    assert await status(api) == "started"
    await api.sim.step()
    body = (await api.get(f"{P}/export", "maint-token")).json()
    assert body["export_status"] == "finished"
    assert set(body) == IDENTITY_KEYS | {"export_status", "_links"}
    assert body["_links"] == {
        "api_url": f"{api.sim.url}/api/v4/projects/1/export/download",
        "web_url": f"{api.sim.url}/grp/proj/download_export",
    }
    assert body["created_at"] == "2020-01-02T03:04:05.678Z"


async def test_time_based_progress(
    make_sim: SimFactory, session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    sim = await make_sim(
        {"timing": {"export_queue_delay": 5, "export_duration": 60}}, step_mode=False
    )
    api = Api(session, sim)
    await api.post(f"{P}/export", "maint-token")
    clock.advance(4.9)
    assert await status(api) == "queued"
    clock.advance(0.1)
    assert await status(api) == "started"
    clock.advance(59)
    await sim.settle()
    assert await status(api) == "started"
    clock.advance(1)
    await sim.settle()
    assert await status(api) == "finished"


async def test_jobs_complete_without_polling(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(
        {"timing": {"export_queue_delay": 0, "export_duration": 0}}, step_mode=False
    )
    await Api(session, sim).post(f"{P}/export", "maint-token")
    for _ in range(100):
        if sim.state.export_jobs and sim.state.export_jobs[0].status == "finished":
            break
        await asyncio.sleep(0.05)
    assert sim.state.export_jobs[0].status == "finished"
    assert len(sim.requests("export_status")) == 0


async def test_exports_are_per_user(api: Api) -> None:
    archive = await api.finished_export("grp%2Fproj", "maint-token")
    assert archive[:2] == b"\x1f\x8b"
    assert await status(api, "owner-token") == "none"
    r = await api.get(f"{P}/export/download", "owner-token")
    assert (r.status, r.json()) == (404, {"message": "404 Not found or has expired"})
    await api.post(f"{P}/export", "owner-token")
    assert await status(api, "maint-token") == "finished"


async def test_per_project_profile(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim({"profile": {"export_ownership": "project"}})
    api = Api(session, sim)
    await api.finished_export("grp%2Fproj", "maint-token")
    assert await status(api, "owner-token") == "finished"
    assert (await api.get(f"{P}/export/download", "owner-token")).status == 200
    await api.post(f"{P}/export", "owner-token")
    assert await status(api, "maint-token") == "queued"


async def test_post_deletes_file_even_when_upload_url_is_invalid(api: Api) -> None:
    await api.finished_export("grp%2Fproj", "maint-token")
    r = await api.post(f"{P}/export", "maint-token", data={"upload[url]": "whatever"})
    assert r.status == 400
    assert r.json() == {"message": {"url": ["is blocked: Only allowed schemes are http, https"]}}
    assert await status(api) == "none"
    assert api.sim.state.export_jobs[-1].status == "finished"


async def test_post_deletes_file_even_when_too_large(api: Api) -> None:
    await api.finished_export("grp%2Fproj", "maint-token")
    api.sim.update_settings({"instance": {"max_export_size": 1}})
    api.sim.create_project(
        {"path_with_namespace": "grp/big", "owner": "owner", "repository_size": 2 * 1024 * 1024}
    )
    big = await api.post("/projects/grp%2Fbig/export", "maint-token")
    assert (big.status, big.json()) == (
        400,
        {"message": "The project size exceeds the export limit."},
    )
    ok = await api.post(f"{P}/export", "maint-token")
    assert ok.status == 202


async def test_bad_http_method_is_a_param_error_before_deletion(api: Api) -> None:
    await api.finished_export("grp%2Fproj", "maint-token")
    r = await api.post(
        f"{P}/export",
        "maint-token",
        data={"upload[url]": "https://example.com/x", "upload[http_method]": "PATCH"},
    )
    assert (r.status, r.json()) == (
        400,
        {"error": "upload[http_method] does not have a valid value"},
    )
    assert await status(api) == "finished"


async def test_post_while_started_coalesces(api: Api) -> None:
    await api.post(f"{P}/export", "maint-token")
    await api.sim.step()
    again = await api.post(f"{P}/export", "maint-token")
    assert again.status == 202
    assert len(api.sim.state.export_jobs) == 1
    await api.sim.step()
    assert await status(api) == "finished"


async def test_parallel_jobs_profile(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim({"profile": {"export_jobs": "parallel"}})
    api = Api(session, sim)
    await api.post(f"{P}/export", "maint-token")
    await api.post(f"{P}/export", "maint-token")
    assert len(sim.state.export_jobs) == 2


async def test_export_disabled(api: Api) -> None:
    api.sim.update_settings({"instance": {"project_export_enabled": False}})
    for method, suffix in [("POST", "/export"), ("GET", "/export"), ("GET", "/export/download")]:
        r = await api.call(method, f"{P}{suffix}", token="maint-token")
        assert (r.status, r.json()) == (404, {"message": "404 Not Found"})


async def test_download_headers_name_and_archive_format(api: Api) -> None:
    await api.post(f"{P}/export", "maint-token", data={"description": "Overridden"})
    await api.sim.step()
    await api.sim.step()
    r = await api.get(f"{P}/export/download", "maint-token")
    name = "2023-11-14_22-13-000_grp_proj_export.tar.gz"
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Transfer-Encoding"] == "binary"
    assert r.headers["Content-Disposition"] == (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    )
    with tarfile.open(fileobj=io.BytesIO(r.body), mode="r:gz") as tar:
        names = tar.getnames()
        assert all(n == "." or n.startswith("./") for n in names)
        read = {n: tar.extractfile(n) for n in names if tar.getmember(n).isfile()}
        files = {n: f.read() for n, f in read.items() if f is not None}
    assert files["./VERSION"] == b"0.2.4"
    assert files["./GITLAB_VERSION"] == b"18.7.0"
    assert "./GITLAB_REVISION" in files
    assert json.loads(files["./tree/project.json"])["description"] == "Overridden"
    issues = [json.loads(line) for line in files["./tree/project/issues.ndjson"].splitlines()]
    assert [i["iid"] for i in issues] == [1, 2, 3, 4, 5]
    summary = await api.sim.project_summary("grp/proj")
    assert (
        hashlib.sha256(files["./project.bundle"]).hexdigest()
        == (summary["content"]["repository_sha256"])
    )
    assert len(files["./project.bundle"]) == 4096


async def test_long_paths_are_cut_to_51_characters(api: Api) -> None:
    path = "grp/" + "a" * 60
    api.sim.create_project({"path_with_namespace": path, "owner": "owner", "repository_size": 10})
    body = await api.finished_export("grp%2F" + "a" * 60, "maint-token")
    assert body
    upload = next(iter(api.sim.state.export_uploads.values()))
    stem = ("2023-11-14_22-13-000_grp_" + "a" * 60)[:51]
    assert upload.filename == f"{stem}_export.tar.gz"


async def test_download_rate_limit_comes_before_the_404(api: Api) -> None:
    first = await api.get(f"{P}/export/download", "maint-token")
    assert (first.status, first.json()) == (404, {"message": "404 Not found or has expired"})
    second = await api.get(f"{P}/export/download", "maint-token")
    assert second.status == 429
    assert second.headers["Retry-After"] == "60"


async def test_object_missing_from_storage(api: Api) -> None:
    api.sim.set_faults({"jobs": [{"job": "export", "mode": "object_missing"}]})
    await api.post(f"{P}/export", "maint-token")
    await api.sim.step()
    await api.sim.step()
    assert await status(api) == "finished"
    r = await api.get(f"{P}/export/download", "maint-token")
    assert (r.status, r.json()) == (
        404,
        {"message": "The project export file is not available yet"},
    )


async def test_retention_hourly_sweep_after_24_hours(api: Api, clock: ManualClock) -> None:
    await api.finished_export("grp%2Fproj", "maint-token")
    clock.set(1_700_000_000 + 86_400 + 1)
    assert await status(api) == "finished"
    clock.set(1_700_089_199)
    assert await status(api) == "finished"
    clock.set(1_700_089_200)
    assert await status(api) == "none"
    api.sim.reset_rate_limits()
    r = await api.get(f"{P}/export/download", "maint-token")
    assert r.json() == {"message": "404 Not found or has expired"}


async def test_stuck_export_fails_after_6_hours(api: Api, clock: ManualClock) -> None:
    api.sim.set_faults({"jobs": [{"job": "export", "mode": "stuck"}]})
    await api.post(f"{P}/export", "maint-token")
    await api.sim.step()
    await api.sim.step()
    assert await status(api) == "started"
    clock.advance(6 * 3600)
    assert await status(api) == "started"
    clock.advance(1)
    assert await status(api) == "failed"
    api.sim.update_settings({"profile": {"export_failed_status": False}})
    assert await status(api) == "none"
    api.sim.update_settings({"profile": {"export_failed_status": True}})
    clock.advance(7 * 86400)
    assert await status(api) == "none"


@pytest.mark.parametrize(
    ("mode", "final"), [("relation_failure", "failed"), ("archive_failure", "none")]
)
async def test_export_failures(api: Api, mode: str, final: str) -> None:
    api.sim.set_faults({"jobs": [{"job": "export", "mode": mode, "project": "grp/proj"}]})
    await api.post(f"{P}/export", "maint-token")
    await api.sim.step()
    assert await status(api) == "started"
    await api.sim.step()
    assert await status(api) == final
    assert api.sim.state.export_jobs[0].status == ("failed" if final == "failed" else "finished")


async def test_concurrency_limit_keeps_jobs_queued(api: Api) -> None:
    api.sim.update_settings({"instance": {"concurrent_relation_export_limit": 1}})
    await api.post(f"{P}/export", "maint-token")
    await api.post("/projects/grp%2Fother/export", "maint-token")
    await api.sim.step()
    assert await status(api) == "started"
    assert await status(api, project="/projects/grp%2Fother") == "queued"
    await api.sim.step()
    assert await status(api) == "finished"
    assert await status(api, project="/projects/grp%2Fother") == "started"


async def test_queued_stuck_fault(api: Api, clock: ManualClock) -> None:
    api.sim.set_faults({"jobs": [{"job": "export", "mode": "queued_stuck", "count": 1}]})
    await api.post(f"{P}/export", "maint-token")
    for _ in range(3):
        await api.sim.step()
    assert await status(api) == "queued"
    clock.advance(6 * 3600 + 1)
    assert await status(api) == "failed"
