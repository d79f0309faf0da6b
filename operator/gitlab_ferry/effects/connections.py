"""GitLab clients shared per (GitLab, token), with request accounting and the host policy
(effects layer).

Objects that name the same GitLab and token share one HTTP connection pool and one identity
in the rate-limit budget. The identity is a fingerprint of the token, never the token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from gitlab_ferry.effects.instances import DEFAULT_TTL, InstanceFacts
from gitlab_ferry.effects.network import HostPolicy
from gitlab_ferry.effects.secrets import GitLabCredentials
from gitlab_ferry.gitlab import GitLabClient, RequestObserver
from gitlab_ferry.gitlab.client import TokenType


def token_identity(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc or url).lower()


@dataclass(frozen=True)
class Connection:
    """A client plus who it speaks as, for the budget, and what its GitLab offers."""

    client: GitLabClient
    host: str
    identity: str
    facts: InstanceFacts


class ClientPool:
    """One ``GitLabClient`` per GitLab URL, token and CA bundle; idle ones are closed."""

    def __init__(
        self,
        *,
        policy: HostPolicy,
        observer: RequestObserver | None,
        timeout: float,
        now: Callable[[], float],
        idle_seconds: float = 900.0,
        version_ttl: float = DEFAULT_TTL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._policy = policy
        self._observer = observer
        self._timeout = timeout
        self._now = now
        self._idle = idle_seconds
        self._version_ttl = version_ttl
        self._transport = transport
        self._clients: dict[tuple[str, str, str, str], tuple[float, Connection]] = {}

    def get(self, credentials: GitLabCredentials) -> Connection:
        identity = token_identity(credentials.token)
        ca = hashlib.sha256((credentials.ca_pem or "").encode()).hexdigest()[:12]
        key = (credentials.url, identity, credentials.token_type, ca)
        entry = self._clients.get(key)
        if entry is None:
            token_type: TokenType = (
                "Bearer" if credentials.token_type == "Bearer" else "PrivateToken"
            )
            client = GitLabClient(
                credentials.url,
                credentials.token,
                token_type=token_type,
                ca_pem=credentials.ca_pem,
                timeout=self._timeout,
                observer=self._observer,
                url_guard=self._policy.check,
                now=self._now,
                transport=self._transport,
            )
            connection = Connection(
                client,
                host_of(credentials.url),
                identity,
                InstanceFacts(self._now, self._version_ttl),
            )
            entry = (time.monotonic(), connection)
        self._clients[key] = (time.monotonic(), entry[1])
        return entry[1]

    async def close_idle(self) -> None:
        cutoff = time.monotonic() - self._idle
        for key, (used, connection) in list(self._clients.items()):
            if used < cutoff:
                del self._clients[key]
                await connection.client.aclose()

    async def aclose(self) -> None:
        for _, connection in self._clients.values():
            await connection.client.aclose()
        self._clients.clear()
