"""Shared pieces of the fidelity tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import gitlab
from aiohttp import web

from gitlab_ferry_testbed.simulator import Simulator

ROOT_TOKEN = "glpat-root-token"
GitLabAt = Callable[[str], AbstractAsyncContextManager[Simulator]]


def wait_until(check: Callable[[], bool], seconds: float = 20.0) -> None:
    """Poll ``check`` every 50 ms until it holds (AssertionError after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def client(sim: Simulator) -> gitlab.Gitlab:
    """python-gitlab as the administrator of the default seed."""
    gl = gitlab.Gitlab(sim.url, private_token=ROOT_TOKEN)
    gl.auth()
    return gl


@dataclass
class FileServer:
    url: str
    files: dict[str, bytes]


@contextlib.asynccontextmanager
async def serve_files() -> AsyncIterator[FileServer]:
    """Serves ``files`` with ``Content-Type: application/gzip`` (HEAD and GET)."""
    files: dict[str, bytes] = {}

    async def handle(request: web.Request) -> web.Response:
        body = files.get(request.path)
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, content_type="application/gzip")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield FileServer(f"http://127.0.0.1:{runner.addresses[0][1]}", files)
    finally:
        await runner.cleanup()
