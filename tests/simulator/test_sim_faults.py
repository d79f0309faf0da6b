"""HTTP fault injection and the request log."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from sim_helpers import Api, SimFactory
from yarl import URL

P = "/projects/grp%2Fproj"


def rule(kind: str, endpoint: str = "*", **kw: object) -> dict[str, object]:
    return {"rules": [{"kind": kind, "endpoint": endpoint, **kw}]}


async def test_json_error_then_recovery(api: Api) -> None:
    api.sim.set_faults(rule("error", "export_status", statuses=[503], count=1))
    r = await api.get(f"{P}/export", "maint-token")
    assert (r.status, r.json()) == (503, {"message": "503 Service Unavailable"})
    assert r.headers["Content-Type"] == "application/json"
    assert (await api.get(f"{P}/export", "maint-token")).status == 200
    faulted = api.sim.requests("export_status")[0]
    assert (faulted.fault, faulted.user, faulted.status) == ("error", "maint", 503)


async def test_fault_only_hits_its_endpoint(api: Api) -> None:
    api.sim.set_faults(rule("error", "download", statuses=[500]))
    assert (await api.get(f"{P}/export", "maint-token")).status == 200
    r = await api.get(f"{P}/export/download", "maint-token")
    assert (r.status, r.json()) == (500, {"message": "500 Internal Server Error"})


async def test_proxy_html_page(api: Api) -> None:
    api.sim.set_faults(rule("html", count=1))
    r = await api.get("/user", "maint-token")
    assert r.status == 502
    assert r.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in r.text


async def test_timeout_drops_the_connection(api: Api) -> None:
    api.sim.set_faults(rule("timeout", "export", delay=0.05, count=1))
    with pytest.raises(aiohttp.ClientError):
        await api.post(f"{P}/export", "maint-token")
    assert api.sim.state.export_jobs == []
    assert (await api.post(f"{P}/export", "maint-token")).status == 202


async def test_request_abandoned_before_its_body_arrived_changes_nothing(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    url = URL(api.sim.api_url)
    _, writer = await asyncio.open_connection(url.host, url.port)
    body = b"description=half"
    writer.write(
        f"POST {url.path}{P}/export HTTP/1.1\r\nHost: gitlab\r\nPRIVATE-TOKEN: maint-token\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) + 100}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    for _ in range(200):
        records = api.sim.requests("export")
        if records and records[0].status:
            break
        await asyncio.sleep(0.01)
    assert [r.status for r in api.sim.requests("export")] == [499]
    assert api.sim.state.export_jobs == []
    assert "unhandled error" not in caplog.text
    assert (await api.post(f"{P}/export", "maint-token")).status == 202


async def test_slow_response_still_processes(api: Api) -> None:
    api.sim.set_faults(rule("slow", "export", delay=0.2, count=1))
    started = time.monotonic()
    r = await api.post(f"{P}/export", "maint-token")
    assert r.status == 202
    assert time.monotonic() - started >= 0.2
    assert len(api.sim.state.export_jobs) == 1


async def test_burst_429_without_retry_after(api: Api) -> None:
    api.sim.set_faults(rule("burst429", "export", count=2))
    for _ in range(2):
        r = await api.post(f"{P}/export", "maint-token")
        assert r.status == 429
        assert "Retry-After" not in r.headers
        assert r.json() == {
            "message": {
                "error": "This endpoint has been requested too many times. Try again later."
            }
        }
    assert api.sim.core.limiter.snapshot() == []
    assert (await api.post(f"{P}/export", "maint-token")).status == 202


async def test_rack_attack_fault(api: Api) -> None:
    api.sim.set_faults(rule("rack_attack", count=1))
    r = await api.get("/user", "maint-token")
    assert (r.status, r.text) == (429, "Retry later\n")
    assert "RateLimit-Reset" in r.headers
    assert "Retry-After" in r.headers


async def test_faults_do_not_touch_state(api: Api) -> None:
    await api.finished_export("grp%2Fproj", "maint-token")
    jobs_before = len(api.sim.state.export_jobs)
    api.sim.reset_rate_limits()
    api.sim.set_faults(rule("error", "export", statuses=[502], count=3))
    for _ in range(3):
        assert (await api.post(f"{P}/export", "maint-token")).status == 502
    assert len(api.sim.state.export_jobs) == jobs_before
    assert api.sim.core.limiter.snapshot() == []
    status = (await api.get(f"{P}/export", "maint-token")).json()["export_status"]
    assert status == "finished"


async def test_random_faults_are_reproducible(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    runs = []
    for _ in range(2):
        sim = await make_sim()
        api = Api(session, sim)
        sim.set_faults(
            {"seed": 42, "rules": [{"kind": "error", "endpoint": "user", "probability": 0.5}]}
        )
        runs.append([(await api.get("/user", "maint-token")).status for _ in range(20)])
    assert runs[0] == runs[1]
    assert {200} < set(runs[0])


async def test_request_log(api: Api) -> None:
    await api.get(f"{P}/export", "maint-token")
    await api.post(f"{P}/export", "maint-token", data={"description": "d", "private_token": "x"})
    await api.get("/projects/grp/proj")
    records = api.sim.requests()
    assert [(r.method, r.path, r.endpoint, r.user, r.status) for r in records] == [
        ("GET", "/api/v4/projects/grp%2Fproj/export", "export_status", "maint", 200),
        ("POST", "/api/v4/projects/grp%2Fproj/export", "export", None, 401),
        ("GET", "/api/v4/projects/grp/proj", None, None, 404),
    ]
    assert records[0].params is None
    assert records[1].params == {"description": "d"}
    assert isinstance(records[0].time, float)
    assert api.sim.requests("export_status") == records[:1]
    assert api.sim.requests(user="maint") == records[:1]
    api.sim.reset_requests()
    assert api.sim.requests() == []
