"""Fault injection: HTTP faults per endpoint and job faults per project.

Part of the simulator layer. HTTP faults are decided before a request is processed (and so never
change state, which keeps client retries safe to test): JSON 5xx, a proxy's HTML 502, a held and
dropped connection, a slow answer, 429 bursts without ``Retry-After`` and Rack::Attack 429s. The
random choice uses a seeded RNG so a run is reproducible. Job faults make export, import and
relation-import jobs fail in GitLab's documented ways. This module must not import anything outside
the simulator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENDPOINTS = (
    "export",
    "export_status",
    "download",
    "import",
    "remote_import",
    "remote_import_s3",
    "import_status",
    "relation_import",
    "relation_imports",
    "project",
    "projects",
    "user",
    "namespace",
    "delete_project",
    "version",
    "metadata",
    "features",
    "feature_definitions",
    "set_feature",
    "delete_feature",
    "group",
    "descendant_groups",
    "group_projects",
    "create_group",
    "group_export",
    "group_download",
    "group_import",
)

FaultKind = Literal["error", "html", "timeout", "slow", "burst429", "rack_attack"]
JOB_FAULT_MODES = MappingProxyType(
    {
        "export": (
            "relation_failure",
            "archive_failure",
            "stuck",
            "queued_stuck",
            "object_missing",
        ),
        "import": ("fail", "stuck"),
        "relation_import": ("fail", "stuck"),
    }
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultRule(_Model):
    """One HTTP fault. ``count`` limits how many requests it hits (None: unlimited)."""

    endpoint: str = "*"
    kind: FaultKind
    probability: float = Field(default=1.0, ge=0, le=1)
    statuses: list[int] = Field(default_factory=lambda: [500, 502, 503])
    delay: float = Field(default=0.0, ge=0, description="real seconds (slow, timeout)")
    count: int | None = Field(default=None, ge=0)


class JobFault(_Model):
    """Make the next ``count`` jobs of ``job`` on ``project`` (path, id or "*") fail."""

    job: Literal["export", "import", "relation_import"]
    project: str = "*"
    mode: str
    message: str = "Simulated import failure"
    count: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _known_mode(self) -> JobFault:
        if self.mode not in JOB_FAULT_MODES[self.job]:
            raise ValueError(f"{self.job} fault mode must be one of {JOB_FAULT_MODES[self.job]}")
        return self


class FaultConfig(_Model):
    seed: int = 0
    rules: list[FaultRule] = Field(default_factory=list)
    jobs: list[JobFault] = Field(default_factory=list)


@dataclass
class Decision:
    kind: FaultKind
    status: int = 0
    delay: float = 0.0


class Faults:
    """The active fault configuration and its RNG."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)

    def replace(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)

    def decide(self, endpoint: str) -> Decision | None:
        """The fault for this request, consuming one use of the rule that fires."""
        for rule in self.config.rules:
            if rule.endpoint not in ("*", endpoint) or rule.count == 0:
                continue
            if rule.probability < 1 and self._rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
            status = self._rng.choice(rule.statuses) if rule.statuses else 500
            return Decision(rule.kind, status, rule.delay)
        return None

    def job_fault(self, job: str, project_refs: tuple[str, ...]) -> JobFault | None:
        for fault in self.config.jobs:
            if fault.job != job or fault.count == 0:
                continue
            if fault.project != "*" and fault.project.lower() not in project_refs:
                continue
            if fault.count is not None:
                fault.count -= 1
            return fault
        return None


PROXY_ERROR_PAGE = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

ERROR_MESSAGES = MappingProxyType(
    {
        500: "500 Internal Server Error",
        502: "502 Bad Gateway",
        503: "503 Service Unavailable",
        504: "504 Gateway Timeout",
    }
)
