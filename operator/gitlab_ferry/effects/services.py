"""The shared services every effect uses: Kubernetes, Secrets, GitLab clients, the budget,
the host policy, a plain HTTP client and the clock (effects layer).

Built once per operator run and passed explicitly; no module-level state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from gitlab_ferry.api.base import DownloadLimitScope, RateLimits
from gitlab_ferry.clock import Clock
from gitlab_ferry.effects.budget import Bucket, Claim, RateLimitBudget
from gitlab_ferry.effects.connections import ClientPool, Connection
from gitlab_ferry.effects.kube import Kube, SecretCache
from gitlab_ferry.effects.network import HostPolicy


@dataclass(frozen=True)
class DefaultLimits:
    """GitLab's per-user limits (requests per minute) unless a connection overrides them."""

    export: int = 6
    import_: int = 6
    download: int = 1
    download_scope: DownloadLimitScope = DownloadLimitScope.NAMESPACE

    def limit(self, bucket: Bucket, overrides: RateLimits | None) -> int:
        chosen = {
            Bucket.EXPORT: overrides.export if overrides else None,
            Bucket.IMPORT: overrides.import_ if overrides else None,
            Bucket.DOWNLOAD: overrides.download if overrides else None,
        }[bucket]
        if chosen is not None:
            return chosen
        return {
            Bucket.EXPORT: self.export,
            Bucket.IMPORT: self.import_,
            Bucket.DOWNLOAD: self.download,
        }[bucket]

    def scope(self, overrides: RateLimits | None) -> DownloadLimitScope:
        if overrides is not None and overrides.download_scope is not None:
            return overrides.download_scope
        return self.download_scope


@dataclass
class Services:
    kube: Kube
    secrets: SecretCache
    clients: ClientPool
    budget: RateLimitBudget
    policy: HostPolicy
    http: httpx.AsyncClient
    clock: Clock
    limits: DefaultLimits
    on_bytes: Callable[[int], None]
    #: Bytes per part when the operator uploads an archive to S3 itself.
    s3_part_size: int = 16 * 1024**2

    def claim(
        self,
        connection: Connection,
        bucket: Bucket,
        overrides: RateLimits | None,
        *,
        project_path: str = "",
    ) -> Claim:
        """A budget claim for one request; downloads are scoped per namespace or project."""
        scope = ""
        if bucket is Bucket.DOWNLOAD:
            if self.limits.scope(overrides) is DownloadLimitScope.NAMESPACE:
                scope = project_path.rsplit("/", 1)[0] if "/" in project_path else project_path
            else:
                scope = project_path
        return Claim(
            host=connection.host,
            identity=connection.identity,
            bucket=bucket,
            limit=self.limits.limit(bucket, overrides),
            scope=scope,
        )
