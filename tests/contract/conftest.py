"""Contract-test fixtures: a simulated GitLab in the test's event loop, on a real loopback
socket, and the project's own client talking to it over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.simulators import Simulators

from gitlab_ferry.gitlab import GitLabClient
from gitlab_ferry_testbed.simulator import Simulator
from gitlab_ferry_testbed.simulator.clock import ManualClock

ROOT = "glpat-root-token"
START = 1_800_000_030.0  # half a minute into a window

SEED: dict[str, Any] = {
    "users": [
        {"username": "root", "token": ROOT, "admin": True},
        {"username": "alice", "token": "glpat-alice"},
    ],
    "groups": [{"path": "group"}, {"path": "group/sub"}, {"path": "target"}],
    "projects": [
        {
            "path_with_namespace": "group/sub/project",
            "description": "The original",
            "owner": "root",
            "repository_size": "64KiB",
            "relations": {"issues": 4, "milestones": 2, "merge_requests": 2},
        },
        {"path_with_namespace": "group/other", "owner": "root", "repository_size": "8KiB"},
    ],
    "settings": {
        "instance": {"allow_local_requests_from_web_hooks_and_services": True},
        "behaviour": {"allow_http_remote_import": True},
    },
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def simulator(
    tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Callable[..., Awaitable[Simulator]]]:
    """``await simulator(seed=..., s3_endpoint=..., **settings)``: a started simulator, in step
    mode unless the settings say otherwise."""
    simulators = Simulators(clock, SEED, tmp_path)

    async def start(
        seed: dict[str, Any] | None = None, s3_endpoint: str | None = None, **settings: Any
    ) -> Simulator:
        return await simulators.start(settings, seed=seed, s3_endpoint=s3_endpoint)

    yield start
    await simulators.stop()


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., GitLabClient]]:
    clients: list[GitLabClient] = []

    def make(sim: Simulator, token: str = ROOT, **options: Any) -> GitLabClient:
        client = GitLabClient(sim.url, token, now=sim.clock.time, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
