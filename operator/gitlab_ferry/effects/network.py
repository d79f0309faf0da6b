"""Which hosts the operator may connect to: tenant isolation and SSRF protection
(effects layer).

Objects name URLs (their GitLab, archive sources, S3 endpoints) and the operator connects to
them from inside the cluster. So, unless the operator's ``allowed_hosts`` setting names them,
it refuses loopback, link-local, unspecified and cloud-metadata addresses, checked on the
addresses a host name resolves to; and when ``allowed_hosts`` is set, only those hosts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence

import httpx

from gitlab_ferry.gitlab.errors import HostNotAllowed

_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if address in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _forbidden(address.ipv4_mapped)
    return None


class HostPolicy:
    """Decides whether a URL may be connected to."""

    def __init__(
        self,
        allowed_hosts: Sequence[str] = (),
        *,
        cache_seconds: float = 60.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allowed = {entry.strip().lower() for entry in allowed_hosts if entry.strip()}
        self._cache_seconds = cache_seconds
        self._now = now
        self._verdicts: dict[tuple[str, int], tuple[float, str | None]] = {}

    def _listed(self, host: str, port: int) -> bool:
        return host in self._allowed or f"{host}:{port}" in self._allowed

    async def check(self, url: httpx.URL | str) -> None:
        """Raise ``HostNotAllowed`` unless connecting to ``url`` is allowed."""
        parsed = httpx.URL(url) if isinstance(url, str) else url
        host = (parsed.host or "").lower().strip("[]")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if not host:
            raise HostNotAllowed(f"URL without a host: {parsed.scheme}://")
        if self._listed(host, port):
            return
        if self._allowed:
            raise HostNotAllowed(
                f"{host}:{port} is not in the operator's allowed hosts (GITLAB_FERRY_ALLOWED_HOSTS)"
            )
        reason = await self._reason(host, port)
        if reason is not None:
            raise HostNotAllowed(
                f"{host} is {reason}; the operator connects there only when "
                "GITLAB_FERRY_ALLOWED_HOSTS names it"
            )

    async def _reason(self, host: str, port: int) -> str | None:
        key = (host, port)
        cached = self._verdicts.get(key)
        if cached is not None and self._now() - cached[0] < self._cache_seconds:
            return cached[1]
        reason = await self._resolve_reason(host, port)
        self._verdicts[key] = (self._now(), reason)
        return reason

    async def _resolve_reason(self, host: str, port: int) -> str | None:
        if host in _METADATA_NAMES:
            return "a cloud metadata host"
        if host == "localhost" or host.endswith(".localhost"):
            return "a loopback address"
        try:
            return _forbidden(ipaddress.ip_address(host))
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            # Unresolvable hosts fail when connecting, with the resolver's own error.
            return None
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            reason = _forbidden(ipaddress.ip_address(address))
            if reason is not None:
                return f"{reason} ({address})"
        return None


#: Host name suffixes that only resolve inside a Kubernetes cluster or on the local machine.
_INTERNAL_SUFFIXES = (".svc", ".cluster.local", ".localhost", ".local", ".internal")


def gitlab_can_fetch(url: str) -> bool:
    """Whether GitLab can fetch ``url`` itself (remote-import): GitLab takes only https, and
    a host that names a Service of the operator's cluster (a one-label name, ``*.svc``,
    ``*.cluster.local``) means nothing to a GitLab outside it."""
    parsed = httpx.URL(url)
    host = (parsed.host or "").lower().rstrip(".")
    if parsed.scheme != "https" or not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." in host and not host.endswith(_INTERNAL_SUFFIXES)
    return True
