"""Component-tier fixtures: reconcile passes of the real reconcilers (effects and controller
included) against simulated GitLabs in the test's event loop on loopback sockets, an
in-memory Kubernetes API and a manual clock shared by all of them. A pass takes milliseconds,
so restart, throttling, write-ahead and approval cases run here rather than end to end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from component_harness import NAMESPACE, ROOT, Operator
from prometheus_client import CollectorRegistry
from tests.support.kube import FakeKube
from tests.support.s3 import S3Server, moto_s3

from gitlab_ferry.clock import ManualClock
from gitlab_ferry.controller.runtime import build_runtime
from gitlab_ferry.settings import Settings
from gitlab_ferry_testbed.simulator import Seed, Simulator, SimulatorConfig

#: Half a minute into a rate-limit window, on a whole second.
START = 1_800_000_030.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def gitlabs(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Callable[..., Any]]:
    """``await gitlabs(seed="default", **settings)``: a simulated GitLab in step mode (jobs
    move on ``step``), on the shared clock."""
    started: list[Simulator] = []

    async def start(
        seed: str = "default", s3_endpoint: str | None = None, **settings: Any
    ) -> Simulator:
        config = SimulatorConfig(
            data_dir=tmp_path / f"gitlab-{len(started)}",
            s3_endpoint=s3_endpoint,
            settings={"timing": {"step_mode": True}, **settings},
        )
        sim = Simulator(config, seed=Seed.load(seed), clock=clock)
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


@pytest.fixture
async def operator_for(
    clock: ManualClock,
) -> AsyncIterator[Callable[..., Operator]]:
    """``operator_for(*gitlabs, **settings)``: an operator allowed to reach those GitLabs,
    with a fresh in-memory Kubernetes (``FakeKube``) holding the GitLab token Secret."""
    made: list[Operator] = []

    def make(*sims: Simulator, kube: FakeKube | None = None, **overrides: Any) -> Operator:
        kube = kube or FakeKube()
        kube.secrets[(NAMESPACE, "gitlab-token")] = {"token": ROOT}
        hosts = [sim.url.split("://", 1)[1] for sim in sims]
        settings = Settings(allowed_hosts=[*hosts, *overrides.pop("hosts", [])], **overrides)
        events: list[tuple[str, str, str, str]] = []

        def record(body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
            events.append((kind, body["metadata"]["name"], reason, message))

        runtime = build_runtime(
            settings, kube=kube, clock=clock, registry=CollectorRegistry(), events=record
        )
        operator = Operator(kube, clock, settings, runtime, events)
        made.append(operator)
        return operator

    yield make
    for operator in made:
        await operator.runtime.aclose()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """moto's S3 server on loopback (the S3 paths run against a real S3-compatible server)."""
    with moto_s3() as server:
        yield server
