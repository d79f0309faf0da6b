"""A faithful simulator of GitLab's project import/export REST API, for tests, demos and benchmarks.

The simulator layer: an aiohttp server that reproduces GitLab's status codes, error bodies, check
order, per-user export state, rate limits and asynchronous import/export jobs (see
``shared/reference/gitlab-api.md``), plus a control API under ``/-/sim/``. It is an independent
witness of GitLab's behaviour, so it must not import any other ``gitlab_ferry`` module except
``gitlab_ferry.clock``; importing it has no side effects.
"""

from gitlab_ferry.simulator.config import (
    Behaviour,
    InstanceSettings,
    Profile,
    SimSettings,
    SimulatorConfig,
    Timing,
)
from gitlab_ferry.simulator.faults import FaultConfig, FaultRule, JobFault
from gitlab_ferry.simulator.requestlog import RequestRecord
from gitlab_ferry.simulator.seed import Seed, SeedGroup, SeedProject, SeedUser
from gitlab_ferry.simulator.server import Simulator
from gitlab_ferry.simulator.state import Transition

__all__ = [
    "Behaviour",
    "FaultConfig",
    "FaultRule",
    "InstanceSettings",
    "JobFault",
    "Profile",
    "RequestRecord",
    "Seed",
    "SeedGroup",
    "SeedProject",
    "SeedUser",
    "SimSettings",
    "Simulator",
    "SimulatorConfig",
    "Timing",
    "Transition",
]
