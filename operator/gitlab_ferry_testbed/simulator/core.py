"""The shared context of one simulator instance: state, settings, clock and helpers.

Part of the simulator layer. One ``Core`` per simulator (never module-level), passed to route
handlers, the job engine and the control API, so several simulators can run in one process. It
holds references only and does no I/O at construction. Feature flags are read here: a flag gates
only the releases whose code checks it, with the state persisted through the Features API (or a
seed) or else the flag's default for the selected version. It must not import anything outside
the simulator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from gitlab_ferry_testbed.simulator.clock import Clock
from gitlab_ferry_testbed.simulator.config import SimSettings, SimulatorConfig
from gitlab_ferry_testbed.simulator.faults import Faults
from gitlab_ferry_testbed.simulator.ratelimit import RateLimiter
from gitlab_ferry_testbed.simulator.remote import S3Gateway
from gitlab_ferry_testbed.simulator.requestlog import RequestLog
from gitlab_ferry_testbed.simulator.state import Project, State, Transition
from gitlab_ferry_testbed.simulator.storage import DataDirs, ObjectStorage
from gitlab_ferry_testbed.simulator.versions import flag_checked, flag_enabled

_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Jobs(Protocol):
    """What route handlers and the control API ask of the job engine."""

    history: list[Transition]

    def wake(self) -> None: ...

    def tick(self) -> list[Transition]: ...

    async def step(self) -> list[Transition]: ...

    async def settle(self, within: float = 60.0) -> list[Transition]: ...


@dataclass
class Core:
    config: SimulatorConfig
    clock: Clock
    dirs: DataDirs
    settings: SimSettings = field(default_factory=SimSettings)
    state: State = field(default_factory=State)
    faults: Faults = field(default_factory=Faults)
    log: RequestLog = field(default_factory=RequestLog)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    http: aiohttp.ClientSession | None = None
    engine: Jobs | None = None
    limiter: RateLimiter = field(init=False)
    storage: ObjectStorage = field(init=False)
    s3: S3Gateway = field(init=False)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.settings = self.config.settings.model_copy(deep=True)
        self.limiter = RateLimiter(self.clock)
        self.storage = ObjectStorage(self.clock)
        self.s3 = S3Gateway(self.config.s3_endpoint)
        self.rng = random.Random(self.config.random_seed)

    def now(self) -> float:
        return self.clock.time()

    def hex(self, nbytes: int = 16) -> str:
        """Like ``SecureRandom.hex`` (reproducible with the instance's seed)."""
        return f"{self.rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"

    def correlation_id(self) -> str:
        return "".join(self.rng.choice(_ULID_ALPHABET) for _ in range(26))

    @property
    def public_url(self) -> str:
        return (self.config.external_url or self.base_url).rstrip("/")

    def session(self) -> aiohttp.ClientSession:
        if self.http is None:
            raise RuntimeError("the simulator is not running")
        return self.http

    def wake(self) -> None:
        if self.engine is not None:
            self.engine.wake()

    @property
    def version(self) -> str:
        return self.settings.behaviour.gitlab_version

    def feature_enabled(self, name: str) -> bool:
        """Flipper's answer: the boolean gate, or a percentage of the checks."""
        state = flag_enabled(name, self.version, self.settings.features)
        if isinstance(state, bool):
            return state
        return self.rng.random() * 100 < state

    def flag_closed(self, name: str) -> bool:
        """This release's code checks the flag ``name`` and finds it off."""
        return flag_checked(name, self.version) and not self.feature_enabled(name)

    def project_refs(self, project: Project) -> tuple[str, ...]:
        return (str(project.id), self.state.full_path(project).lower())
