"""``Simulator``: one running simulated GitLab (API listener, object-storage listener, job engine).

Part of the simulator layer. ``async with Simulator(config, seed=..., clock=...) as sim`` starts
both listeners on loopback (port 0 picks a free port) and the background engine; several
instances can run in one process (a source and a destination GitLab). The in-process methods
mirror the control API. This module must not import anything outside the simulator.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from gitlab_ferry_testbed.simulator import (
    control,
    routes_admin,
    routes_export,
    routes_group_import_export,
    routes_groups,
    routes_import,
    routes_projects,
    routes_relations,
)
from gitlab_ferry_testbed.simulator.clock import Clock, ManualClock, SystemClock
from gitlab_ferry_testbed.simulator.config import SimSettings, SimulatorConfig
from gitlab_ferry_testbed.simulator.control import project_view
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.engine import Engine
from gitlab_ferry_testbed.simulator.errors import route_not_found
from gitlab_ferry_testbed.simulator.faults import FaultConfig
from gitlab_ferry_testbed.simulator.requestlog import RequestRecord
from gitlab_ferry_testbed.simulator.routing import Dispatcher
from gitlab_ferry_testbed.simulator.seed import Seed, SeedProject, apply_seed
from gitlab_ferry_testbed.simulator.state import Project, State, Transition
from gitlab_ferry_testbed.simulator.storage import DataDirs

CLIENT_MAX_SIZE = 64 * 1024 * 1024


def build_app(core: Core) -> web.Application:
    """The API application: control routes first, then GitLab's routes and catch-all."""
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    control.install(app, core)
    dispatcher = Dispatcher(
        core,
        [
            *routes_import.ROUTES,
            *routes_relations.ROUTES,
            *routes_group_import_export.ROUTES,
            *routes_groups.ROUTES,
            *routes_export.ROUTES,
            *routes_projects.ROUTES,
            *routes_admin.ROUTES,
        ],
    )

    async def catch_all(request: web.Request) -> web.StreamResponse:
        if request.rel_url.raw_path == "/api/v4" or request.rel_url.raw_path.startswith("/api/v4/"):
            return await dispatcher(request)
        if request.path == "/-/health":
            return web.Response(text="GitLab OK")
        if request.path.startswith("/api/"):
            return route_not_found()
        return web.Response(
            status=404, text="<html><body>Not Found</body></html>", content_type="text/html"
        )

    app.router.add_route("*", "/{tail:.*}", catch_all)
    return app


class Simulator:
    """A simulated GitLab instance; see the module docstring."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        seed: Seed | str | Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or SystemClock()
        self._seed = Seed.load(seed) if isinstance(seed, str | Path) else seed
        self._core: Core | None = None
        self._engine: Engine | None = None
        self._runners: list[web.AppRunner] = []
        self.url = ""
        self.storage_url = ""

    # lifecycle

    async def start(self) -> Simulator:
        dirs = DataDirs(self.config.data_dir)
        core = Core(config=self.config, clock=self.clock, dirs=dirs)
        if self._seed is not None:
            if self._seed.settings:
                core.settings = core.settings.merged(self._seed.settings)
            apply_seed(core.state, self._seed, now=self.clock.time())
        engine = Engine(core)
        core.engine = engine
        self._core, self._engine = core, engine
        ssl_context: ssl.SSLContext | None = None
        if self.config.tls_cert is not None:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        port = await self._listen(build_app(core), self.config.port, ssl_context)
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://{_url_host(self.config.host)}:{port}"
        core.base_url = self.url
        storage_port = await self._listen(core.storage.app, self.config.storage_port, None)
        self.storage_url = f"http://{_url_host(self.config.host)}:{storage_port}"
        core.storage.base_url = self.storage_url
        client_ssl: ssl.SSLContext | bool = True
        if self.config.ca_file is not None:
            client_ssl = ssl.create_default_context(cafile=str(self.config.ca_file))
        core.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl))
        engine.start()
        return self

    async def _listen(self, app: web.Application, port: int, ctx: ssl.SSLContext | None) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.config.host, port, ssl_context=ctx)
        await site.start()
        address = runner.addresses[0]
        return int(address[1])

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.stop()
            self._engine = None
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        core = self._core
        if core is not None:
            if core.http is not None:
                await core.http.close()
            core.dirs.cleanup()
        self._core = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # in-process API (mirrors the control API)

    @property
    def core(self) -> Core:
        if self._core is None:
            raise RuntimeError("the simulator is not running")
        return self._core

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the simulator is not running")
        return self._engine

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    @property
    def state(self) -> State:
        return self.core.state

    @property
    def settings(self) -> SimSettings:
        return self.core.settings

    def update_settings(self, patch: dict[str, Any]) -> SimSettings:
        """Deep-merge ``patch`` (e.g. ``{"instance": {"project_import_limit": 0}}``)."""
        self.core.settings = self.core.settings.merged(patch)
        self.core.wake()
        return self.core.settings

    def set_faults(self, faults: FaultConfig | dict[str, Any]) -> None:
        config = faults if isinstance(faults, FaultConfig) else FaultConfig.model_validate(faults)
        self.core.faults.replace(config)

    def requests(
        self, endpoint: str | None = None, *, user: str | None = None, method: str | None = None
    ) -> list[RequestRecord]:
        return self.core.log.records(endpoint, user=user, method=method)

    def reset_requests(self) -> None:
        self.core.log.reset()

    def reset_rate_limits(self) -> None:
        self.core.limiter.reset()

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """``upload[url]`` pushes the simulator made."""
        return list(self.core.pushes)

    @property
    def storage_hits(self) -> list[dict[str, Any]]:
        return self.core.storage.records()

    async def step(self) -> list[Transition]:
        return await self.engine.step()

    async def settle(self, within: float = 60.0) -> list[Transition]:
        """Wait for in-flight work (archive builds, downloads, pushes), then tick."""
        return await self.engine.settle(within)

    def advance(self, seconds: float) -> list[Transition]:
        """Move a ManualClock forward and apply what became due."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a ManualClock")
        self.clock.advance(seconds)
        return self.engine.tick()

    def tick(self) -> list[Transition]:
        return self.engine.tick()

    def apply_seed(self, seed: Seed) -> list[Project]:
        return apply_seed(self.core.state, seed, now=self.clock.time())

    def create_project(self, spec: SeedProject | dict[str, Any]) -> Project:
        parsed = spec if isinstance(spec, SeedProject) else SeedProject.model_validate(spec)
        (project,) = self.apply_seed(Seed(projects=[parsed]))
        return project

    def project(self, ref: int | str) -> Project | None:
        if isinstance(ref, int) or ref.isdigit():
            return self.state.projects.get(int(ref))
        return self.state.project_by_full_path(ref, include_deleted=True)

    async def project_summary(self, ref: int | str) -> dict[str, Any]:
        project = self.project(ref)
        if project is None:
            raise KeyError(ref)
        return await project_view(self.core, project)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - a URL for clients on this machine
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
