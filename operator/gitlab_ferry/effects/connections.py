"""GitLab clients shared per (GitLab, token), with request accounting and the host policy
(effects layer).

Objects that name the same GitLab and token share one HTTP connection pool and one identity
in the rate-limit budget. The identity is a fingerprint of the token, never the token.
"""

from __future__ import annotations

import hashlib
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
    """One ``GitLabClient`` per GitLab URL, token and CA bundle, kept for the operator's
    life: a client holds no sockets while unused (httpx closes idle keep-alive connections
    after a few seconds), and a long upload must never see its client closed under it."""

    def __init__(
        self,
        *,
        policy: HostPolicy,
        observer: RequestObserver | None,
        timeout: float,
        now: Callable[[], float],
        version_ttl: float = DEFAULT_TTL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._policy = policy
        self._observer = observer
        self._timeout = timeout
        self._now = now
        self._version_ttl = version_ttl
        self._transport = transport
        self._clients: dict[tuple[str, str, str, str], Connection] = {}

    def get(self, credentials: GitLabCredentials) -> Connection:
        identity = token_identity(credentials.token)
        ca = hashlib.sha256((credentials.ca_pem or "").encode()).hexdigest()[:12]
        key = (credentials.url, identity, credentials.token_type, ca)
        connection = self._clients.get(key)
        if connection is None:
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
            self._clients[key] = connection
        return connection

    async def aclose(self) -> None:
        for connection in self._clients.values():
            await connection.client.aclose()
        self._clients.clear()
