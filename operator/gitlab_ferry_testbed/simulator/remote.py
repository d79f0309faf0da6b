"""Outbound requests the simulated GitLab makes: URL checks, HEAD, downloads, S3, upload pushes.

Part of the simulator layer. Reproduces ``Gitlab::UrlBlocker`` (schemes; hosts that do not
resolve; localhost, loopback, private, link-local, shared-address-space and broadcast addresses
unless ``allow_local_requests_from_web_hooks_and_services``), the remote-file checks of
``/projects/remote-import`` (HEAD with a short timeout, the S3 exemption, Content-Length and
Content-Type rules), the worker's streaming download, the S3 object lookup (signed with
botocore) and the ``upload[url]`` push of an export, including Amazon S3's refusal of a single PUT
above 5 GiB. It never logs query strings and must not import anything outside the simulator.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from gitlab_ferry_testbed.simulator.errors import human_size

ALLOWED_CONTENT_TYPES = ("application/gzip", "application/x-tar", "application/x-gzip")
_CHUNK = 1 << 20


class RemoteProblem(Exception):
    """A check or transfer failed; ``str(err)`` is GitLab's message."""


_LOCALHOST = frozenset({"::", "0.0.0.0", "127.0.0.1", "::1"})  # noqa: S104 - a blocklist
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fec0::/10", "fc00::/7")
)
_LINK_LOCAL = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _in(
    address: Address, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    return any(address in network for network in networks)


# UrlBlocker#validate_local_request: each check looks at every address before the next one.
# Python's is_private/is_reserved would also block documentation and reserved ranges, which
# GitLab lets through, so the ranges are GitLab's own.
_LOCAL_CHECKS: tuple[tuple[str, Callable[[Address], bool]], ...] = (
    ("Requests to localhost are not allowed", lambda a: str(a) in _LOCALHOST),
    ("Requests to loopback addresses are not allowed", lambda a: a.is_loopback),
    ("Requests to the local network are not allowed", lambda a: _in(a, _PRIVATE)),
    ("Requests to the link local network are not allowed", lambda a: _in(a, _LINK_LOCAL)),
    ("Requests to the shared address space are not allowed", lambda a: a in _SHARED),
    ("Requests to the limited broadcast address are not allowed", lambda a: a == _BROADCAST),
)


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


async def blocked_reason(
    url: str, *, schemes: tuple[str, ...], allow_local: bool, dns_rebind_protection: bool = True
) -> str | None:
    """``Gitlab::UrlBlocker.validate!``: why ``url`` is blocked (``is blocked: ...``), or None.

    The host is resolved even when local requests are allowed: with DNS-rebinding protection
    (GitLab's default for outbound requests) a host that does not resolve is refused.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "is blocked: URI is invalid"
    if parts.scheme not in schemes:
        return f"is blocked: Only allowed schemes are {', '.join(schemes)}"
    if not host:
        return "is blocked: URI is invalid"
    if allow_local and not dns_rebind_protection:
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError:
        return (
            None if not dns_rebind_protection else "is blocked: Host cannot be resolved or invalid"
        )
    if allow_local:
        return None
    addresses = [_address(str(info[4][0])) for info in infos]
    for reason, matches in _LOCAL_CHECKS:
        if any(matches(a) for a in addresses):
            return f"is blocked: {reason}"
    return None


def _describe(err: BaseException, url: str) -> str:
    if isinstance(err, TimeoutError):
        return "execution expired"
    if isinstance(err, aiohttp.ClientConnectorError):
        host = urlsplit(url).hostname
        return (
            f"Failed to open TCP connection to {host}:{err.port} "
            f'(Connection refused - connect(2) for "{host}" port {err.port})'
        )
    return str(err) or type(err).__name__


async def head_headers(
    session: aiohttp.ClientSession, url: str, limit_seconds: float
) -> dict[str, str]:
    """``Gitlab::HTTP.head(url, timeout: 1.second).headers``; raises ``RemoteProblem``."""
    try:
        async with session.head(
            url, allow_redirects=True, timeout=aiohttp.ClientTimeout(total=limit_seconds)
        ) as resp:
            return {k.lower(): v for k, v in resp.headers.items()}
    except (TimeoutError, aiohttp.ClientError) as err:
        raise RemoteProblem(f"Failed to retrive headers: {_describe(err, url)}") from err


def is_s3_response(headers: dict[str, str]) -> bool:
    return headers.get("server") == "AmazonS3" and "x-amz-request-id" in headers


def remote_file_errors(
    content_length: str | int | None, content_type: str | None, max_mb: int
) -> list[str]:
    """``RemoteFileValidator``: Content-Length in (0, cap], Content-Type on the allow-list."""
    errors: list[str] = []
    try:
        length = int(content_length or 0)
    except ValueError:
        length = 0
    cap = max_mb * 1024 * 1024
    if length <= 0:
        errors.append(f"Content length is too small (should be at least {human_size(1)})")
    elif cap and length > cap:
        errors.append(f"Content length is too big (should be at most {human_size(cap)})")
    if content_type not in ALLOWED_CONTENT_TYPES:
        errors.append(
            f"Content type '{content_type or ''}' not allowed. "
            f"(Allowed: {', '.join(ALLOWED_CONTENT_TYPES)})"
        )
    return errors


async def download(session: aiohttp.ClientSession, url: str, dest: Path, max_bytes: int) -> None:
    """The import worker's streaming GET: a non-200 fails; past the cap the file is cut short."""
    try:
        async with session.get(
            url,
            allow_redirects=True,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300),
        ) as resp:
            if resp.status != 200:
                raise RemoteProblem(f"unsupported response downloading fragment {resp.status}")
            size = 0
            with dest.open("wb") as fh:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if max_bytes and size > max_bytes:
                        break
                    await asyncio.to_thread(fh.write, chunk)
    except (TimeoutError, aiohttp.ClientError) as err:
        raise RemoteProblem(_describe(err, url)) from err


@dataclass
class S3Object:
    content_length: int
    content_type: str | None


class S3Gateway:
    """S3 calls made with the caller's credentials against the configured endpoint."""

    def __init__(self, endpoint: str | None) -> None:
        self.endpoint = endpoint
        self._session = botocore.session.get_session()

    def _client(self, region: str, access_key: str, secret_key: str) -> Any:
        return self._session.create_client(
            "s3",
            region_name=region or "us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=BotoConfig(
                signature_version="s3v4",
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )

    def head(
        self, *, region: str, bucket: str, key: str, access_key: str, secret_key: str
    ) -> S3Object | None:
        """The object's metadata, None when it does not exist; raises ``RemoteProblem``."""
        client = self._client(region, access_key, secret_key)
        try:
            meta = client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                return None
            detail = err.response.get("Error", {}).get("Message") or code
            raise RemoteProblem(f"Failed to open '{key}' in '{bucket}': {detail}") from err
        except BotoCoreError as err:
            raise RemoteProblem(f"Failed to open '{key}' in '{bucket}': {err}") from err
        return S3Object(int(meta.get("ContentLength", 0)), meta.get("ContentType"))

    def stand_in(self, url: str) -> str:
        """Where a URL on Amazon S3 is fetched: the configured endpoint stands in for AWS,
        as it does for remote-import-s3, so a pre-signed AWS URL reaches the stand-in's copy
        (path style). Other URLs are fetched as they are."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self.endpoint is None or not host.endswith(".amazonaws.com"):
            return url
        path = parts.path
        bucket = host.split(".s3", 1)[0] if ".s3" in host and not host.startswith("s3") else ""
        if bucket:
            path = f"/{bucket}{path}"
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.endpoint.rstrip('/')}{path}{query}"

    def presign_get(
        self, *, region: str, bucket: str, key: str, access_key: str, secret_key: str
    ) -> str:
        client = self._client(region, access_key, secret_key)
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=28 * 3600
        )
        return url


def is_s3_presigned(url: str) -> bool:
    """An Amazon S3 pre-signed URL carries its signature in the query (version 4, or 2)."""
    keys = {k.lower() for k in parse_qs(urlsplit(url).query, keep_blank_values=True)}
    version_4 = bool(keys & {"x-amz-signature", "x-amz-credential"})
    version_2 = {"awsaccesskeyid", "signature"} <= keys
    return version_4 or version_2


def s3_entity_too_large(size: int, limit: int) -> str:
    """Amazon S3's answer to a single PUT above its limit (it reads no body to say so)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>EntityTooLarge</Code>'
        "<Message>Your proposed upload exceeds the maximum allowed size</Message>"
        f"<ProposedSize>{size}</ProposedSize><MaxSizeAllowed>{limit}</MaxSizeAllowed></Error>"
    )


async def push_upload(
    session: aiohttp.ClientSession,
    *,
    path: Path,
    url: str,
    method: str,
    allow_local: bool,
    s3_limit: int = 0,
    declared_size: int | None = None,
) -> tuple[int | None, str | None]:
    """The web upload strategy: the raw archive, ``Content-Type: application/gzip``.

    ``declared_size`` stands for the archive's size where the project declares statistics
    larger than its generated content, so S3's single-PUT limit can be met without the bytes.
    """
    reason = await blocked_reason(url, schemes=("http", "https"), allow_local=allow_local)
    if reason is not None:
        return None, f"URL {reason}"
    size = (await asyncio.to_thread(path.stat)).st_size
    proposed = size if declared_size is None else declared_size
    if s3_limit and proposed > s3_limit and is_s3_presigned(url):
        text = s3_entity_too_large(proposed, s3_limit)[:200]
        return 400, f"Error uploading the project. Code 400: {text}"
    headers = {"Content-Type": "application/gzip", "Content-Length": str(size)}
    try:
        with await asyncio.to_thread(path.open, "rb") as fh:
            async with session.request(
                method,
                url,
                data=fh,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300),
            ) as resp:
                body = await resp.read()
                if 200 <= resp.status < 300:
                    return resp.status, None
                text = body[:200].decode("utf-8", "replace")
                return resp.status, f"Error uploading the project. Code {resp.status}: {text}"
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        return None, _describe(err, url)
