"""Helpers for the simulator tests: an HTTP client wrapper and an independent archive writer."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from gitlab_ferry_testbed.simulator import Simulator

SimFactory = Callable[..., Awaitable[Simulator]]
# archives and S3 served from this machine over plain http: both are refused by default
LOCAL_HTTP: dict[str, Any] = {
    "instance": {"allow_local_requests_from_web_hooks_and_services": True},
    "behaviour": {"allow_http_remote_import": True},
}
VersionedFactory = Callable[..., Awaitable["Api"]]


@dataclass
class Resp:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class Api:
    """Calls the simulator's ``/api/v4`` with a token (header by default); paths stay encoded."""

    def __init__(self, session: aiohttp.ClientSession, sim: Simulator) -> None:
        self.session = session
        self.sim = sim

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        via: str = "header",
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Resp:
        hdrs = dict(headers or {})
        url = f"{self.sim.api_url}{path}"
        if token is not None and via == "header":
            hdrs["PRIVATE-TOKEN"] = token
        elif token is not None and via == "bearer":
            hdrs["Authorization"] = f"Bearer {token}"
        elif token is not None and via == "param":
            url += ("&" if "?" in url else "?") + f"private_token={token}"
        async with self.session.request(
            method, URL(url, encoded=True), headers=hdrs, allow_redirects=False, **kw
        ) as r:
            return Resp(r.status, r.headers, await r.read())

    async def get(self, path: str, token: str | None = None, **kw: Any) -> Resp:
        return await self.call("GET", path, token=token, **kw)

    async def post(self, path: str, token: str | None = None, **kw: Any) -> Resp:
        return await self.call("POST", path, token=token, **kw)

    async def delete(self, path: str, token: str | None = None, **kw: Any) -> Resp:
        return await self.call("DELETE", path, token=token, **kw)

    async def import_file(
        self,
        archive: bytes,
        *,
        token: str = "root-token",
        filename: str = "export.tar.gz",
        endpoint: str = "/projects/import",
        **fields: Any,
    ) -> Resp:
        form = aiohttp.FormData()
        for key, value in fields.items():
            form.add_field(key, str(value))
        # a BytesIO: aiohttp warns about large raw bytes bodies
        form.add_field(
            "file", io.BytesIO(archive), filename=filename, content_type="application/octet-stream"
        )
        return await self.post(endpoint, token, data=form)

    async def finished_export(self, project: str, token: str = "root-token") -> bytes:
        """POST an export, step it to finished and download it."""
        r = await self.post(f"/projects/{project}/export", token)
        assert r.status == 202, r.text
        await self.sim.step()
        await self.sim.step()
        status = await self.get(f"/projects/{project}/export", token)
        assert status.json()["export_status"] == "finished"
        self.sim.reset_rate_limits()
        download = await self.get(f"/projects/{project}/export/download", token)
        assert download.status == 200, download.text
        return download.body


def make_archive(
    *,
    version: bytes | None = b"0.2.4",
    project_json: Any = None,
    relations: dict[str, list[Any]] | None = None,
    raw_relations: dict[str, bytes] | None = None,
    bundle: bytes | None = b"# v2 git bundle\nbytes",
    tree: bool = True,
    hard_link: bool = False,
    symlink_project_json: bool = False,
    extra: dict[str, bytes] | None = None,
    symlinks: dict[str, str] | None = None,
    fifo: str | None = None,
) -> bytes:
    """A GitLab export archive written with ``tarfile`` (not the simulator's writer)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            add_file(tar, name, data)

        if version is not None:
            add("./VERSION", version)
        if tree:
            pj = {"description": "from archive", "visibility_level": 0}
            if project_json is not None:
                pj = project_json
            if symlink_project_json:
                link = tarfile.TarInfo("./tree/project.json")
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(link)
            else:
                add("./tree/project.json", json.dumps(pj).encode())
            for name, records in (relations or {}).items():
                lines = b"".join(json.dumps(r).encode() + b"\n" for r in records)
                add(f"./tree/project/{name}.ndjson", lines)
            for name, data in (raw_relations or {}).items():
                add(f"./tree/project/{name}.ndjson", data)
        if bundle is not None:
            add("./project.bundle", bundle)
        if hard_link:
            link = tarfile.TarInfo("./project2.bundle")
            link.type, link.linkname = tarfile.LNKTYPE, "./project.bundle"
            tar.addfile(link)
        for name, data in (extra or {}).items():
            add(name, data)
        for name, target in (symlinks or {}).items():
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
        if fifo is not None:
            pipe = tarfile.TarInfo(fifo)
            pipe.type = tarfile.FIFOTYPE
            tar.addfile(pipe)
    return buf.getvalue()


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_group_archive(groups: list[dict[str, Any]], version: bytes = b"0.2.4") -> bytes:
    """A group export archive written with ``tarfile``: ``VERSION``, ``_all.ndjson`` and each
    group's attributes (not the simulator's writer)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        add_file(tar, "./VERSION", version)
        ids = b"".join(b"%d\n" % g["id"] for g in groups)
        add_file(tar, "./tree/groups/_all.ndjson", ids)
        for group in groups:
            add_file(tar, f"./tree/groups/{group['id']}.json", json.dumps(group).encode())
    return buf.getvalue()


def issues(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [{"iid": i, "title": f"Issue {i}", "state": "opened"} for i in range(start, start + n)]
