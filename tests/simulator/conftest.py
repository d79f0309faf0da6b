"""Fixtures for the simulator's own tests: a small seed, a running simulator, an HTTP helper."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sim_helpers import Api, SimFactory, VersionedFactory
from tests.support.simulators import Simulators

from gitlab_ferry_testbed.simulator import Simulator
from gitlab_ferry_testbed.simulator.clock import ManualClock

# 2023-11-14T22:13:20Z, a whole minute plus 20 s: tests that cross windows set the clock explicitly
START = 1_700_000_000.0

SEED: dict[str, Any] = {
    "users": [
        {"username": "root", "token": "root-token", "admin": True, "scopes": ["api", "sudo"]},
        {"username": "owner", "token": "owner-token"},
        {"username": "maint", "token": "maint-token"},
        {"username": "dev", "token": "dev-token"},
        {"username": "reporter", "token": "reporter-token"},
        {"username": "guest", "token": "guest-token"},
        {"username": "outsider", "token": "outsider-token"},
        {"username": "reader", "token": "reader-token", "scopes": ["read_api"]},
        {
            "username": "expired",
            "tokens": [{"token": "expired-token", "expires_at": "2000-01-01T00:00:00Z"}],
        },
        {"username": "revoked", "tokens": [{"token": "revoked-token", "revoked": True}]},
    ],
    "groups": [
        {
            "path": "grp",
            "name": "Group",
            "members": [
                {"user": "owner", "access_level": "owner"},
                {"user": "maint", "access_level": "maintainer"},
                {"user": "dev", "access_level": "developer"},
                {"user": "reporter", "access_level": "reporter"},
                {"user": "guest", "access_level": "guest"},
            ],
        },
        {"path": "grp/sub", "name": "Sub"},
        {
            "path": "pub",
            "name": "Public",
            "visibility": "public",
            "members": [{"user": "maint", "access_level": "maintainer"}],
        },
    ],
    "projects": [
        {
            "path_with_namespace": "grp/proj",
            "name": "Proj",
            "description": "Private project",
            "owner": "owner",
            "repository_size": 4096,
            "created_at": "2020-01-02T03:04:05.678Z",
        },
        {"path_with_namespace": "grp/sub/deep", "owner": "owner", "repository_size": 2048},
        {
            "path_with_namespace": "pub/open",
            "visibility": "public",
            "owner": "root",
            "repository_size": 1024,
        },
        {"path_with_namespace": "grp/other", "owner": "owner", "repository_size": 1024},
    ],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def make_sim(clock: ManualClock) -> AsyncIterator[SimFactory]:
    """Start simulators (step mode and a ManualClock unless told otherwise); stop them after."""
    simulators = Simulators(clock, SEED)
    yield simulators.start
    await simulators.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def sim(make_sim: SimFactory) -> Simulator:
    return await make_sim()


@pytest.fixture
def api(sim: Simulator, session: aiohttp.ClientSession) -> Api:
    return Api(session, sim)


@pytest.fixture
def at_version(make_sim: SimFactory, session: aiohttp.ClientSession) -> VersionedFactory:
    """An ``Api`` on a simulator that behaves as GitLab ``version`` (plus any other settings)."""

    async def start(version: str, settings: dict[str, Any] | None = None, **config: Any) -> Api:
        patch = copy.deepcopy(settings or {})
        patch.setdefault("behaviour", {})["gitlab_version"] = version
        return Api(session, await make_sim(patch, **config))

    return start
