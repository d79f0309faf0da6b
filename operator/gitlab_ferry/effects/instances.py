"""What one GitLab instance runs and lacks, read once per GitLab and token (effects layer).

``GET /version`` is read the first time a connection is used and again after ``ttl`` seconds,
or sooner when GitLab answers 404 for a whole route (it may have been upgraded or moved).
Capabilities an instance answers 404 for although its version has them (a feature flag an
administrator turned off) are remembered for ``ttl`` too, so the next plan routes around them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gitlab_ferry.gitlab import GitLabClient, errors
from gitlab_ferry.gitlab_versions import Capability, GitLabInfo, GitLabVersion

#: How long a version read, or a capability found off, is trusted.
DEFAULT_TTL = 3600.0


class InstanceFacts:
    """The cached ``GitLabInfo`` of one connection."""

    def __init__(self, now: Callable[[], float], ttl: float = DEFAULT_TTL) -> None:
        self._now = now
        self._ttl = ttl
        self._version: GitLabVersion | None = None
        self._read_at: float | None = None
        self._disabled: dict[Capability, float] = {}
        #: The read under way: passes that start together share it instead of each asking.
        self._reading: asyncio.Future[GitLabVersion | None] | None = None

    async def info(self, client: GitLabClient) -> GitLabInfo:
        """The instance's version and the capabilities found off; raises ``GitLabError``
        when GitLab cannot be asked (a wrong token, an outage)."""
        now = self._now()
        if self._read_at is None or now - self._read_at >= self._ttl:
            reading = self._reading
            if reading is None:
                reading = self._reading = asyncio.ensure_future(_read_version(client))
            try:
                self._version = await asyncio.shield(reading)
            finally:
                if reading.done() and self._reading is reading:
                    self._reading = None
            self._read_at = now
        self._disabled = {c: t for c, t in self._disabled.items() if now - t < self._ttl}
        return GitLabInfo(self._version, frozenset(self._disabled))

    def known(self, info: GitLabInfo) -> GitLabInfo:
        """``info`` with every capability found off since it was read."""
        return GitLabInfo(info.version, info.disabled | frozenset(self._disabled))

    def forget_version(self) -> None:
        """Read the version again on next use."""
        self._read_at = None

    def disable(self, capability: Capability) -> None:
        """Record that this instance answered 404 for ``capability``."""
        self._disabled[capability] = self._now()
        self.forget_version()


async def _read_version(client: GitLabClient) -> GitLabVersion | None:
    try:
        answer = await client.version()
    except (errors.Unauthorized, errors.HostNotAllowed):
        raise
    except (errors.Forbidden, errors.NotFound):
        # A token without a scope that may read it: the version stays unknown and the plans
        # assume the least that GitLab can do.
        return None
    return GitLabVersion.parse(answer.version)
