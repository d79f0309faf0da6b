"""Application rate limits and Rack::Attack (§1.4)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import aiohttp
from sim_helpers import Api, SimFactory, make_archive

from gitlab_ferry_testbed.simulator.clock import ManualClock

THROTTLED = {
    "message": {"error": "This endpoint has been requested too many times. Try again later."}
}
MINUTE_START = 1_700_000_000 - 20  # START is 20 s into a minute


async def test_export_limit_window_and_reset(api: Api, clock: ManualClock) -> None:
    for _ in range(6):
        assert (await api.post("/projects/grp%2Fproj/export", "maint-token")).status == 202
    seventh = await api.post("/projects/grp%2Fproj/export", "maint-token")
    assert seventh.status == 429
    assert seventh.json() == THROTTLED
    assert seventh.headers["Retry-After"] == "60"
    assert seventh.headers["Content-Type"] == "application/json"
    other_user = await api.post("/projects/grp%2Fproj/export", "owner-token")
    assert other_user.status == 202
    clock.set(MINUTE_START + 59.9)
    assert (await api.post("/projects/grp%2Fproj/export", "maint-token")).status == 429
    clock.set(MINUTE_START + 60)
    assert (await api.post("/projects/grp%2Fproj/export", "maint-token")).status == 202


async def test_throttled_calls_count_and_zero_disables(api: Api) -> None:
    api.sim.update_settings({"instance": {"project_export_limit": 1}})
    assert (await api.post("/projects/grp%2Fproj/export", "maint-token")).status == 202
    assert (await api.post("/projects/grp%2Fproj/export", "maint-token")).status == 429
    counts = {r["key"]: r["count"] for r in api.sim.core.limiter.snapshot()}
    assert counts["project_export"] == 2
    api.sim.update_settings({"instance": {"project_export_limit": 0}})
    for _ in range(10):
        assert (await api.post("/projects/grp%2Fproj/export", "maint-token")).status == 202


async def test_status_gets_are_not_limited(api: Api) -> None:
    for _ in range(20):
        assert (await api.get("/projects/grp%2Fproj/export", "maint-token")).status == 200
        assert (await api.get("/projects/grp%2Fproj/import", "maint-token")).status == 200


async def test_one_import_counter_shared_by_four_endpoints(api: Api) -> None:
    bad_ns = {"namespace": "does-not-exist"}
    archive = make_archive()
    r = await api.import_file(archive, filename="x.zip", path="a")
    assert r.status == 422
    r = await api.import_file(archive, path="a", **bad_ns)
    assert r.status == 404
    r = await api.post(
        "/projects/remote-import",
        "root-token",
        json={"url": "https://example.com/x.tar.gz", "path": "a", **bad_ns},
    )
    assert r.status == 404
    s3 = {
        "region": "r",
        "bucket_name": "b",
        "file_key": "k",
        "access_key_id": "a",
        "secret_access_key": "s",
        "path": "a",
        **bad_ns,
    }
    r = await api.post("/projects/remote-import-s3", "root-token", json=s3)
    assert r.status == 404
    for _ in range(2):
        r = await api.import_file(
            archive,
            endpoint="/projects/import-relation",
            filename="x.zip",
            path="grp/proj",
            relation="issues",
        )
        assert r.status == 422
    seventh = await api.post(
        "/projects/remote-import",
        "root-token",
        json={"url": "https://example.com/x.tar.gz", "path": "a", **bad_ns},
    )
    assert (seventh.status, seventh.json()) == (429, THROTTLED)
    assert (await api.import_file(archive, path="a")).status == 429


async def test_import_limit_checked_before_extension(api: Api) -> None:
    api.sim.update_settings({"instance": {"project_import_limit": 1}})
    assert (await api.import_file(make_archive(), filename="a.zip", path="x")).status == 422
    assert (await api.import_file(make_archive(), filename="a.zip", path="x")).status == 429


async def test_download_limit_scoped_by_namespace(api: Api) -> None:
    assert (await api.get("/projects/grp%2Fproj/export/download", "maint-token")).status == 404
    r = await api.get("/projects/grp%2Fother/export/download", "maint-token")
    assert (r.status, r.json()) == (429, THROTTLED)
    elsewhere = await api.get("/projects/grp%2Fsub%2Fdeep/export/download", "owner-token")
    assert elsewhere.status == 404


async def test_download_limit_scoped_by_project_profile(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim({"profile": {"download_limit_scope": "project"}})
    api = Api(session, sim)
    assert (await api.get("/projects/grp%2Fproj/export/download", "maint-token")).status == 404
    assert (await api.get("/projects/grp%2Fother/export/download", "maint-token")).status == 404
    assert (await api.get("/projects/grp%2Fproj/export/download", "maint-token")).status == 429


async def test_older_gitlab_sends_no_retry_after(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim({"profile": {"retry_after_header": False}})
    api = Api(session, sim)
    await api.get("/projects/grp%2Fproj/export/download", "maint-token")
    r = await api.get("/projects/grp%2Fproj/export/download", "maint-token")
    assert r.status == 429
    assert r.json() == THROTTLED
    assert "Retry-After" not in r.headers


async def test_rack_attack_mode(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim(
        {"behaviour": {"rack_attack": {"enabled": True, "limit": 2, "period": 60}}}
    )
    api = Api(session, sim)
    for _ in range(2):
        assert (await api.get("/projects/grp%2Fproj", "maint-token")).status == 200
    r = await api.get("/projects/grp%2Fproj", "maint-token")
    assert r.status == 429
    assert r.text == "Retry later\n"
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["RateLimit-Name"] == "throttle_authenticated_api"
    assert r.headers["RateLimit-Limit"] == "2"
    assert r.headers["RateLimit-Observed"] == "3"
    assert r.headers["RateLimit-Remaining"] == "0"
    assert r.headers["RateLimit-Reset"] == str(MINUTE_START + 60)
    reset_time = parsedate_to_datetime(r.headers["RateLimit-ResetTime"])
    assert reset_time.timestamp() == MINUTE_START + 60
    assert r.headers["Retry-After"] == "40"
    other = await api.get("/projects/grp%2Fproj", "owner-token")
    assert other.status == 200
