"""The control API under ``/-/sim/``."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sim_helpers import Api, SimFactory, make_archive

from gitlab_ferry_testbed.simulator import Seed, Simulator, SimulatorConfig
from gitlab_ferry_testbed.simulator.clock import SystemClock


async def ctl(
    session: aiohttp.ClientSession,
    sim: Simulator,
    method: str,
    path: str,
    *,
    expect: int = 200,
    **kw: Any,
) -> Any:
    async with session.request(method, f"{sim.url}/-/sim{path}", **kw) as r:
        assert r.status == expect, await r.text()
        return await r.json() if r.content_type == "application/json" else None


async def test_settings_roundtrip(sim: Simulator, session: aiohttp.ClientSession) -> None:
    got = await ctl(session, sim, "GET", "/settings")
    assert got["instance"]["project_export_limit"] == 6
    assert got["timing"]["step_mode"] is True
    put = await ctl(
        session,
        sim,
        "PUT",
        "/settings",
        json={"instance": {"project_import_limit": 0}, "profile": {"retry_after_header": False}},
    )
    assert put["instance"]["project_import_limit"] == 0
    assert put["instance"]["project_export_limit"] == 6
    assert sim.settings.profile.retry_after_header is False
    bad = await ctl(
        session,
        sim,
        "PUT",
        "/settings",
        expect=400,
        json={"instance": {"project_import_limit": -1}},
    )
    assert "error" in bad
    await ctl(session, sim, "PUT", "/settings", expect=400, json={"nonsense": 1})


async def test_faults_and_step_and_log(sim: Simulator, session: aiohttp.ClientSession) -> None:
    api = Api(session, sim)
    config = {
        "seed": 1,
        "rules": [{"kind": "error", "endpoint": "user", "statuses": [503], "count": 1}],
    }
    await ctl(session, sim, "PUT", "/faults", json=config)
    assert (await ctl(session, sim, "GET", "/faults"))["rules"][0]["kind"] == "error"
    assert (await api.get("/user", "maint-token")).status == 503
    await ctl(session, sim, "DELETE", "/faults", expect=204)
    assert (await api.get("/user", "maint-token")).status == 200
    await ctl(session, sim, "PUT", "/faults", expect=400, json={"rules": [{"kind": "explode"}]})
    await api.post("/projects/grp%2Fproj/export", "maint-token")
    step = await ctl(session, sim, "POST", "/step")
    assert step["transitions"] == [
        {"kind": "export", "id": 1, "project_id": 1, "from": "queued", "to": "started"}
    ]
    await ctl(session, sim, "POST", "/step")
    history = await ctl(session, sim, "GET", "/transitions")
    assert [t["to"] for t in history] == ["started", "finished"]
    log = await ctl(session, sim, "GET", "/requests", params={"endpoint": "user"})
    assert [r["status"] for r in log] == [503, 200]
    assert log[0]["fault"] == "error"
    await ctl(session, sim, "DELETE", "/requests", expect=204)
    assert await ctl(session, sim, "GET", "/requests") == []


async def test_clock_advance_and_projects(sim: Simulator, session: aiohttp.ClientSession) -> None:
    api = Api(session, sim)
    await api.finished_export("grp%2Fproj", "maint-token")
    before = (await ctl(session, sim, "GET", "/clock"))["time"]
    moved = await ctl(session, sim, "POST", "/clock/advance", json={"seconds": 26 * 3600})
    assert moved["time"] == before + 26 * 3600
    assert [t["kind"] for t in moved["transitions"]] == ["export_expired"]
    projects = await ctl(session, sim, "GET", "/projects")
    assert [p["path_with_namespace"] for p in projects] == [
        "grp/proj",
        "grp/sub/deep",
        "pub/open",
        "grp/other",
    ]
    one = await ctl(session, sim, "GET", "/projects/grp%2Fproj")
    assert one["exports"] == [{"owner": "maint", "status": "none", "file": None}]
    assert one["content"]["relations"]["issues"] == 5
    assert len(one["content"]["repository_sha256"]) == 64
    created = await ctl(
        session,
        sim,
        "POST",
        "/projects",
        expect=201,
        json={
            "path_with_namespace": "grp/new",
            "owner": "owner",
            "relations": {"issues": 2},
            "invalid_issues": 1,
            "repository_size": "1KiB",
        },
    )
    assert created["content"]["relations"] == {"issues": 2}
    assert created["content"]["invalid_relations"] == {"issues": 1}
    assert created["content"]["repository_size"] == 1024
    await ctl(
        session, sim, "POST", "/projects", expect=400, json={"path_with_namespace": "grp/new"}
    )
    await ctl(session, sim, "GET", "/projects/999", expect=404)


async def test_rename_creates_a_redirect_and_cancel(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    api = Api(session, sim)
    await ctl(session, sim, "POST", "/projects/grp%2Fother/rename", json={"path": "renamed"})
    r = await api.get("/projects/grp%2Fother", "root-token")
    assert r.status == 301
    assert r.headers["Location"].endswith("/api/v4/projects/4")
    created = await api.import_file(make_archive(), path="c", namespace="grp")
    await ctl(session, sim, "POST", f"/projects/{created.json()['id']}/cancel-import")
    status = (await api.get(f"/projects/{created.json()['id']}/import", "root-token")).json()
    assert (status["import_status"], status["import_error"]) == ("canceled", None)


async def test_seed_users_and_observers(sim: Simulator, session: aiohttp.ClientSession) -> None:
    await ctl(
        session,
        sim,
        "POST",
        "/seed",
        expect=201,
        json={
            "users": [{"username": "zed", "token": "zed-token"}],
            "groups": [{"path": "zgrp", "members": [{"user": "zed", "access_level": "owner"}]}],
            "projects": [{"path_with_namespace": "zgrp/p", "owner": "zed"}],
        },
    )
    api = Api(session, sim)
    assert (await api.get("/projects/zgrp%2Fp", "zed-token")).status == 200
    users = await ctl(session, sim, "GET", "/users")
    assert "zed" in [u["username"] for u in users]
    assert all("token" not in u for u in users)
    assert await ctl(session, sim, "GET", "/uploads") == []
    assert await ctl(session, sim, "GET", "/storage/requests") == []
    await api.post("/projects/zgrp%2Fp/export", "zed-token")
    limits = await ctl(session, sim, "GET", "/ratelimits")
    assert limits[0]["key"] == "project_export"
    assert limits[0]["count"] == 1
    await ctl(session, sim, "DELETE", "/ratelimits", expect=204)
    assert await ctl(session, sim, "GET", "/ratelimits") == []
    health = await ctl(session, sim, "GET", "/health")
    assert health["status"] == "ok"


async def test_control_can_require_an_admin_token(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(control_requires_admin=True)
    await ctl(session, sim, "GET", "/settings", expect=403)
    await ctl(
        session, sim, "GET", "/settings", expect=403, headers={"PRIVATE-TOKEN": "maint-token"}
    )
    await ctl(session, sim, "GET", "/settings", headers={"PRIVATE-TOKEN": "root-token"})
    await ctl(session, sim, "GET", "/settings", headers={"Authorization": "Bearer root-token"})


async def test_advance_needs_a_manual_clock(session: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorConfig(), seed=Seed(), clock=SystemClock()) as sim:
        await ctl(session, sim, "POST", "/clock/advance", expect=409, json={"seconds": 1})
        with pytest.raises(TypeError):
            sim.advance(1)
