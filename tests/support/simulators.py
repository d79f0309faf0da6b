"""Simulated GitLabs in the test's own event loop, on real loopback sockets.

Test support for the tiers that drive the simulator in process (the simulator's own tests, the
client's contract tests): each is started in step mode (jobs move only on ``step``) on the
test's clock unless told otherwise, and all are stopped when the test ends. It must not import
the operator: the simulator is the witness the operator's client is checked against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitlab_ferry_testbed.simulator import Seed, Simulator, SimulatorConfig
from gitlab_ferry_testbed.simulator.clock import Clock


class Simulators:
    """Starts simulators for one test and stops them all in ``stop``.

    ``seed`` is what a simulator holds unless ``start`` names another; with ``directory``,
    each keeps its archives in a folder of its own there (else a temporary one).
    """

    def __init__(self, clock: Clock, seed: dict[str, Any], directory: Path | None = None):
        self.clock, self.seed, self.directory = clock, seed, directory
        self.started: list[Simulator] = []

    async def start(
        self,
        settings: dict[str, Any] | None = None,
        *,
        seed: dict[str, Any] | Seed | str | None = None,
        step_mode: bool = True,
        **config: Any,
    ) -> Simulator:
        """A running simulator with ``settings`` merged into GitLab's defaults and ``config``
        for its ``SimulatorConfig`` (``s3_endpoint``, ``ca_file``, ...)."""
        if self.directory is not None:
            config.setdefault("data_dir", self.directory / f"sim-{len(self.started)}")
        options = SimulatorConfig(**config)
        patch = {"timing": {"step_mode": step_mode}, **(settings or {})}
        options.settings = options.settings.merged(patch)
        chosen = self.seed if seed is None else seed
        if isinstance(chosen, dict):
            chosen = Seed.model_validate(chosen)
        sim = Simulator(options, seed=chosen, clock=self.clock)
        await sim.start()
        self.started.append(sim)
        return sim

    async def stop(self) -> None:
        for sim in self.started:
            await sim.stop()
