"""``POST /projects/remote-import``: URL rules, HEAD checks and the worker's download (§6)."""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sim_helpers import LOCAL_HTTP, Api, SimFactory, issues, make_archive
from tests.support.archives import ArchiveServer
from tests.support.certificates import self_signed

from gitlab_ferry_testbed.simulator import Seed, Simulator, SimulatorConfig
from gitlab_ferry_testbed.simulator.remote import blocked_reason

CONTENT_TYPE_ERROR = (
    "Content type '{}' not allowed. (Allowed: application/gzip, application/x-tar, "
    "application/x-gzip)"
)


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    srv = ArchiveServer(body=make_archive(relations={"issues": issues(2)}))
    yield srv
    srv.close()


@pytest.fixture
async def local(make_sim: SimFactory, session: aiohttp.ClientSession) -> Api:
    return Api(session, await make_sim(LOCAL_HTTP))


async def remote(api: Api, url: str, **extra: Any) -> Any:
    return await api.post(
        "/projects/remote-import", "root-token", json={"url": url, "path": "remote", **extra}
    )


async def test_parameters_are_required(local: Api) -> None:
    r = await local.post("/projects/remote-import", "root-token", json={"name": "x"})
    assert (r.status, r.json()) == (400, {"error": "url is missing, path is missing"})


async def test_https_only_by_default(api: Api, server: ArchiveServer) -> None:
    r = await remote(api, server.url + "/a.tar.gz")
    assert (r.status, r.json()) == (
        400,
        {"message": "File url is blocked: Only allowed schemes are https"},
    )
    assert server.hits == []


async def test_local_network_blocked_unless_allowed(
    make_sim: SimFactory, session: aiohttp.ClientSession, server: ArchiveServer
) -> None:
    api = Api(session, await make_sim({"behaviour": {"allow_http_remote_import": True}}))
    r = await remote(api, server.url + "/a.tar.gz")
    assert r.json() == {"message": "File url is blocked: Requests to localhost are not allowed"}
    r = await remote(api, "http://10.1.2.3/a.tar.gz")
    assert r.json() == {
        "message": "File url is blocked: Requests to the local network are not allowed"
    }


async def test_https_import_end_to_end(
    make_sim: SimFactory, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    archive = make_archive(relations={"issues": issues(4)}, bundle=b"bundle-bytes")
    srv = ArchiveServer(body=archive, tls=(cert, key))
    try:
        sim = await make_sim(
            {"instance": {"allow_local_requests_from_web_hooks_and_services": True}},
            ca_file=cert,
        )
        api = Api(session, sim)
        r = await remote(api, srv.url + "/export.tar.gz?X-Amz-Signature=s3cr3t", namespace="grp")
        assert r.status == 201, r.text
        body = r.json()
        assert body["import_status"] == "scheduled"
        assert body["import_type"] == "gitlab_project"
        assert srv.hits == ["HEAD"]
        await sim.step()
        await sim.step()
        status = await api.get(f"/projects/{body['id']}/import", "root-token")
        assert status.json()["import_status"] == "finished"
        assert srv.hits == ["HEAD", "GET"]
        content = (await sim.project_summary(body["id"]))["content"]
        assert content["relations"]["issues"] == 4
        assert content["repository_sha256"] == hashlib.sha256(b"bundle-bytes").hexdigest()
        logged = sim.requests("remote_import")[-1].params
        assert logged is not None
        assert logged["url"] == srv.url + "/export.tar.gz"
    finally:
        srv.close()


async def test_head_timeout(
    make_sim: SimFactory, session: aiohttp.ClientSession, server: ArchiveServer
) -> None:
    api = Api(
        session,
        await make_sim(
            {
                **LOCAL_HTTP,
                "behaviour": {"allow_http_remote_import": True, "remote_head_timeout": 0.2},
            }
        ),
    )
    server.head_delay = 1.0
    r = await remote(api, server.url + "/a.tar.gz")
    assert (r.status, r.json()) == (
        400,
        {"message": "Failed to retrive headers: execution expired"},
    )


async def test_connection_refused(local: Api) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    r = await remote(local, f"http://127.0.0.1:{port}/a.tar.gz")
    assert r.json() == {
        "message": (
            f"Failed to retrive headers: Failed to open TCP connection to 127.0.0.1:{port} "
            f'(Connection refused - connect(2) for "127.0.0.1" port {port})'
        )
    }


async def test_content_length_rules(local: Api, server: ArchiveServer) -> None:
    server.content_length = "0"
    r = await remote(local, server.url + "/a.tar.gz")
    assert r.json() == {"message": "Content length is too small (should be at least 1 Byte)"}
    local.sim.update_settings({"instance": {"max_import_remote_file_size": 1}})
    server.content_length = str(2 * 1024 * 1024)
    r = await remote(local, server.url + "/a.tar.gz")
    assert r.json() == {"message": "Content length is too big (should be at most 1 MB)"}
    local.sim.update_settings({"instance": {"max_import_remote_file_size": 0}})
    r = await remote(local, server.url + "/a.tar.gz")
    assert r.status == 201


async def test_content_type_allow_list(local: Api, server: ArchiveServer) -> None:
    server.content_type = "text/html"
    r = await remote(local, server.url + "/a.tar.gz")
    assert r.json() == {"message": CONTENT_TYPE_ERROR.format("text/html")}
    server.content_type = "application/x-tar"
    assert (await remote(local, server.url + "/a.tar.gz")).status == 201


async def test_s3_responses_skip_the_header_checks(local: Api, server: ArchiveServer) -> None:
    server.content_type = "binary/octet-stream"
    server.s3_headers = True
    r = await remote(local, server.url + "/a.tar.gz")
    assert r.status == 201


async def test_worker_fails_on_non_200(local: Api, server: ArchiveServer) -> None:
    server.get_status = 403
    r = await remote(local, server.url + "/a.tar.gz")
    assert r.status == 201
    await local.sim.step()
    await local.sim.step()
    body = (await local.get(f"/projects/{r.json()['id']}/import", "root-token")).json()
    assert body["import_status"] == "failed"
    assert body["import_error"] == (
        "Error importing repository  into root/remote - "
        "unsupported response downloading fragment 403"
    )


async def test_override_params_in_json(local: Api, server: ArchiveServer) -> None:
    r = await remote(
        local,
        server.url + "/a.tar.gz",
        name="Remote One",
        override_params={"description": "from json", "bogus": 1},
    )
    assert r.json()["description"] == "from json"
    flat = await local.post(
        "/projects/remote-import",
        "root-token",
        json={
            "url": server.url + "/b.tar.gz",
            "path": "flat",
            "override_params[description]": "bracketed",
        },
    )
    assert flat.json()["description"] == "bracketed"
    await local.sim.step()
    await local.sim.step()
    project = local.sim.project("root/remote")
    assert project is not None
    assert (project.name, project.description) == ("Remote One", "from json")
    assert "bogus" not in project.attributes


async def test_remote_import_path_taken_after_url_checks(local: Api, server: ArchiveServer) -> None:
    server.content_type = "text/plain"
    r = await remote(local, server.url + "/a.tar.gz", path="proj", namespace="grp")
    assert r.json() == {"message": CONTENT_TYPE_ERROR.format("text/plain")}
    server.content_type = "application/gzip"
    r = await remote(local, server.url + "/a.tar.gz", path="proj", namespace="grp")
    assert r.json() == {"message": "Path has already been taken"}


async def test_simulator_serves_https(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    cert, key = self_signed(tmp_path)
    config = SimulatorConfig(tls_cert=cert, tls_key=key)
    async with Simulator(config, seed=Seed.load("empty")) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        async with session.get(
            f"{sim.api_url}/user", headers={"PRIVATE-TOKEN": "glpat-root-token"}, ssl=trust
        ) as r:
            assert r.status == 200
            assert (await r.json())["web_url"] == f"{sim.url}/root"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/a", "Requests to localhost are not allowed"),
        ("http://[::1]/a", "Requests to localhost are not allowed"),
        ("http://0.0.0.0/a", "Requests to localhost are not allowed"),
        ("http://127.0.0.2/a", "Requests to loopback addresses are not allowed"),
        ("http://172.16.5.4/a", "Requests to the local network are not allowed"),
        ("http://[fc00::1]/a", "Requests to the local network are not allowed"),
        ("http://[::ffff:10.0.0.1]/a", "Requests to the local network are not allowed"),
        ("http://169.254.169.254/a", "Requests to the link local network are not allowed"),
        ("http://[fe80::1]/a", "Requests to the link local network are not allowed"),
        ("http://100.64.1.2/a", "Requests to the shared address space are not allowed"),
        ("http://100.127.255.254/a", "Requests to the shared address space are not allowed"),
        ("http://255.255.255.255/a", "Requests to the limited broadcast address are not allowed"),
        # documentation, benchmarking and reserved ranges are not local to GitLab
        ("http://192.0.2.10/a", None),
        ("http://198.51.100.7/a", None),
        ("http://203.0.113.9/a", None),
        ("http://198.18.0.1/a", None),
        ("http://240.0.0.1/a", None),
        ("http://100.128.0.1/a", None),
    ],
)
async def test_url_blocker_ranges(url: str, reason: str | None) -> None:
    got = await blocked_reason(url, schemes=("http", "https"), allow_local=False)
    assert got == (None if reason is None else f"is blocked: {reason}")
    assert await blocked_reason(url, schemes=("http", "https"), allow_local=True) is None


async def test_unresolvable_hosts_are_refused_even_when_local_is_allowed(local: Api) -> None:
    r = await remote(local, "http://no-such-host.invalid/a.tar.gz")
    assert (r.status, r.json()) == (
        400,
        {"message": "File url is blocked: Host cannot be resolved or invalid"},
    )
    # validation without DNS-rebinding protection (an export's upload[url]) lets them through
    unchecked = await blocked_reason(
        "http://no-such-host.invalid/a",
        schemes=("http",),
        allow_local=True,
        dns_rebind_protection=False,
    )
    assert unchecked is None


async def test_shared_address_space_refused_and_documentation_range_allowed(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    api = Api(
        session,
        await make_sim(
            {"behaviour": {"allow_http_remote_import": True, "remote_head_timeout": 0.1}}
        ),
    )
    r = await remote(api, "http://100.64.0.1/a.tar.gz")
    assert r.json() == {
        "message": "File url is blocked: Requests to the shared address space are not allowed"
    }
    # 192.0.2.0/24 passes the blocker: GitLab goes on to send the HEAD (unanswered here)
    r = await remote(api, "http://192.0.2.1/a.tar.gz")
    assert r.status == 400
    assert r.json()["message"].startswith("Failed to retrive headers: ")
