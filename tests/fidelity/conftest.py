"""Fixtures for the fidelity tests: a simulator in real time, an archive server and moto (S3)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from fidelity_helpers import FileServer, GitLabAt, serve_files
from tests.support.s3 import moto_s3

from gitlab_ferry_testbed.simulator import Seed, Simulator, SimulatorConfig
from gitlab_ferry_testbed.simulator.clock import SystemClock


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_s3() as s3:
        yield s3.endpoint


@pytest.fixture
def gitlab_at(moto_endpoint: str) -> GitLabAt:
    """The default seed (it allows local http for demos) as GitLab ``version``, with jobs that
    complete on their own."""

    @contextlib.asynccontextmanager
    async def start(version: str) -> AsyncIterator[Simulator]:
        config = SimulatorConfig(s3_endpoint=moto_endpoint)
        config.settings = config.settings.merged(
            {
                "behaviour": {"gitlab_version": version},
                "timing": {
                    "export_queue_delay": 0,
                    "export_duration": 0,
                    "import_queue_delay": 0,
                    "import_duration": 0,
                    "relation_import_queue_delay": 0,
                    "relation_import_duration": 0,
                    "group_export_queue_delay": 0,
                    "group_export_duration": 0,
                    "group_import_queue_delay": 0,
                    "group_import_duration": 0,
                },
            }
        )
        async with Simulator(config, seed=Seed.load("default"), clock=SystemClock()) as sim:
            yield sim

    return start


@pytest.fixture
async def gitlab_sim(gitlab_at: GitLabAt) -> AsyncIterator[Simulator]:
    async with gitlab_at("18.7.0") as sim:
        yield sim


@pytest.fixture
async def file_server() -> AsyncIterator[FileServer]:
    async with serve_files() as server:
        yield server
