"""A faithful simulator of GitLab's project import/export REST API, for tests, demos and benchmarks.

The simulator layer: an aiohttp server that reproduces GitLab's status codes, error bodies, check
order, per-user export state, rate limits and asynchronous import/export jobs (see
``shared/reference/gitlab-api.md``), plus a control API under ``/-/sim/``. It is an independent
witness of GitLab's behaviour, so it must not import anything outside the simulator (nothing of
the operator, ``gitlab_ferry``, and not even its clock); importing it has no side effects.
"""

from gitlab_ferry_testbed.simulator.clock import Clock, ManualClock, ScaledClock, SystemClock
from gitlab_ferry_testbed.simulator.config import (
    Behaviour,
    InstanceSettings,
    Profile,
    SimSettings,
    SimulatorConfig,
    Timing,
)
from gitlab_ferry_testbed.simulator.faults import FaultConfig, FaultRule, JobFault
from gitlab_ferry_testbed.simulator.requestlog import RequestRecord
from gitlab_ferry_testbed.simulator.seed import Seed, SeedGroup, SeedProject, SeedUser
from gitlab_ferry_testbed.simulator.server import Simulator
from gitlab_ferry_testbed.simulator.state import Transition

__all__ = [
    "Behaviour",
    "Clock",
    "FaultConfig",
    "FaultRule",
    "InstanceSettings",
    "JobFault",
    "ManualClock",
    "Profile",
    "RequestRecord",
    "ScaledClock",
    "Seed",
    "SeedGroup",
    "SeedProject",
    "SeedUser",
    "SimSettings",
    "Simulator",
    "SimulatorConfig",
    "SystemClock",
    "Timing",
    "Transition",
]
