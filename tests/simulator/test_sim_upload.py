"""``upload[url]`` pushes and the object-storage download mode (§2 upload strategy, §4)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sim_helpers import Api, SimFactory

from gitlab_ferry_testbed.simulator import Simulator
from gitlab_ferry_testbed.simulator.clock import ManualClock

P = "/projects/grp%2Fproj"


@dataclass
class Receiver:
    url: str = ""
    status: int = 200
    sim: Simulator | None = None
    hits: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        job_status = rec.sim.state.export_jobs[-1].status if rec.sim else None
        rec.hits.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "content_type": request.headers.get("Content-Type"),
                "content_length": request.headers.get("Content-Length"),
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
                "job_status": job_status,
            }
        )
        return web.Response(status=rec.status, text="denied" if rec.status >= 300 else "ok")

    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def local_api(make_sim: SimFactory, session: aiohttp.ClientSession) -> Api:
    sim = await make_sim({"instance": {"allow_local_requests_from_web_hooks_and_services": True}})
    return Api(session, sim)


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_push_sends_the_raw_archive(local_api: Api, receiver: Receiver, method: str) -> None:
    receiver.sim = local_api.sim
    url = f"{receiver.url}/bucket/key.tar.gz?X-Amz-Signature=secret"
    r = await local_api.post(
        f"{P}/export", "maint-token", data={"upload[url]": url, "upload[http_method]": method}
    )
    assert r.status == 202
    await local_api.sim.step()
    await local_api.sim.step()
    assert len(receiver.hits) == 1
    hit = receiver.hits[0]
    assert hit["method"] == method
    assert hit["path"] == "/bucket/key.tar.gz?X-Amz-Signature=secret"
    assert hit["content_type"] == "application/gzip"
    assert hit["content_length"] == str(hit["size"])
    assert hit["job_status"] == "started"
    local_api.sim.reset_rate_limits()
    download = await local_api.get(f"{P}/export/download", "maint-token")
    assert hashlib.sha256(download.body).hexdigest() == hit["sha256"]
    (push,) = local_api.sim.uploads
    assert push["url"] == f"{receiver.url}/bucket/key.tar.gz"
    assert push["status"] == 200
    assert push["error"] is None
    logged = local_api.sim.requests("export")[-1].params
    assert logged == {"upload": {"url": push["url"], "http_method": method}}


async def test_failed_push_does_not_change_the_status(local_api: Api, receiver: Receiver) -> None:
    receiver.status = 500
    await local_api.post(f"{P}/export", "maint-token", data={"upload[url]": receiver.url + "/x"})
    await local_api.sim.step()
    await local_api.sim.step()
    status = await local_api.get(f"{P}/export", "maint-token")
    assert status.json()["export_status"] == "finished"
    assert (await local_api.get(f"{P}/export/download", "maint-token")).status == 200
    (push,) = local_api.sim.uploads
    assert push["status"] == 500
    assert push["error"] == "Error uploading the project. Code 500: denied"


async def test_local_targets_blocked_unless_allowed(api: Api, receiver: Receiver) -> None:
    r = await api.post(f"{P}/export", "maint-token", data={"upload[url]": receiver.url + "/x"})
    assert r.status == 202
    await api.sim.step()
    await api.sim.step()
    assert receiver.hits == []
    assert (await api.get(f"{P}/export", "maint-token")).json()["export_status"] == "finished"
    assert api.sim.uploads[0]["error"] == "URL is blocked: Requests to localhost are not allowed"


async def test_time_mode_push_then_finished(
    make_sim: SimFactory, session: aiohttp.ClientSession, receiver: Receiver, clock: ManualClock
) -> None:
    sim = await make_sim(
        {
            "instance": {"allow_local_requests_from_web_hooks_and_services": True},
            "timing": {"export_queue_delay": 0, "export_duration": 0},
        },
        step_mode=False,
    )
    receiver.sim = sim
    api = Api(session, sim)
    await api.post(f"{P}/export", "maint-token", data={"upload[url]": receiver.url + "/t"})
    await sim.settle()
    assert receiver.hits[0]["job_status"] == "started"
    assert (await api.get(f"{P}/export", "maint-token")).json()["export_status"] == "finished"


async def test_object_storage_redirect(
    make_sim: SimFactory, session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    sim = await make_sim({"behaviour": {"object_storage": True, "storage_url_ttl": 60}})
    api = Api(session, sim)
    await api.post(f"{P}/export", "maint-token")
    await sim.step()
    await sim.step()
    r = await api.get(f"{P}/export/download", "maint-token")
    assert r.status == 302
    location = r.headers["Location"]
    assert location.startswith(sim.storage_url + "/exports/")
    assert r.text == f"This resource has been moved temporarily to {location}."
    async with session.get(location) as clean:
        body = await clean.read()
        assert clean.status == 200
    async with session.get(location, headers={"PRIVATE-TOKEN": "maint-token"}) as leaky:
        assert leaky.status == 200
    hits = sim.storage_hits
    assert hits[0]["credential_headers"] == {}
    assert hits[1]["credential_headers"] == {"PRIVATE-TOKEN": "maint-token"}
    upload = next(iter(sim.state.export_uploads.values()))
    assert hashlib.sha256(body).hexdigest() == upload.sha256
    clock.advance(61)
    async with session.get(location) as expired:
        assert expired.status == 403
    tampered = location.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    async with session.get(tampered) as bad:
        assert bad.status == 403
