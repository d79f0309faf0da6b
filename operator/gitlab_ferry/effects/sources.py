"""Archive sources the operator streams from: a GitLab export download, or an HTTPS URL
(a pre-signed S3 GET among them) (effects layer).

Bytes pass through in chunks, counted and hashed on the way, so a multi-gigabyte archive
moves from source to destination in constant memory and its SHA-256 is known at the end. The
hash runs in a worker thread (hashlib releases the GIL on large buffers), one chunk behind the
transfer, so it costs the event loop nothing while the previous chunk is being sent.
Every URL is checked against the host policy before connecting, redirects included.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import httpx

from gitlab_ferry.effects.network import HostPolicy
from gitlab_ferry.gitlab import ArchiveUpload, GitLabClient, ProjectRef
from gitlab_ferry.gitlab.chunks import coalesce
from gitlab_ferry.redact import redact_text, redact_url

CHUNK = 1024 * 1024
_MAX_REDIRECTS = 3


class SourceError(Exception):
    """The archive source failed (status, connection)."""


class TrackedArchive:
    """An archive in transit: its name, announced size, and the bytes seen so far."""

    def __init__(
        self,
        filename: str,
        chunks: AsyncIterator[bytes],
        size: int | None,
        on_bytes: Callable[[int], None],
    ) -> None:
        self.filename = filename if filename.endswith("gz") else f"{filename}.tar.gz"
        self.size = size
        self.seen = 0
        self._hash = hashlib.sha256()
        self._chunks = chunks
        self._on_bytes = on_bytes

    async def _counted(self) -> AsyncIterator[bytes]:
        hashing: asyncio.Future[None] | None = None
        try:
            async for chunk in self._chunks:
                if hashing is not None:
                    await hashing
                # Chunks are immutable bytes: the thread may read this one while it is sent.
                hashing = asyncio.ensure_future(asyncio.to_thread(self._hash.update, chunk))
                self.seen += len(chunk)
                self._on_bytes(len(chunk))
                yield chunk
            if hashing is not None:
                await hashing
                hashing = None
        finally:
            if hashing is not None and not hashing.done():
                hashing.cancel()

    def upload(self) -> ArchiveUpload:
        """The archive as a multipart upload body (consumable once)."""
        return ArchiveUpload(filename=self.filename, chunks=self._counted(), size=self.size)

    def chunks(self) -> AsyncIterator[bytes]:
        """The archive's bytes, counted and hashed on the way (consumable once)."""
        return self._counted()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@asynccontextmanager
async def from_gitlab(
    client: GitLabClient, project: ProjectRef, on_bytes: Callable[[int], None]
) -> AsyncIterator[TrackedArchive]:
    """The export archive of ``project`` on ``client``'s GitLab."""
    async with client.open_export_download(project) as download:
        yield TrackedArchive(download.filename, download.iter_bytes(), download.size, on_bytes)


def _filename(url: str) -> str:
    name = posixpath.basename(unquote(urlsplit(url).path))
    return name if name.endswith("gz") else "archive.tar.gz"


async def _chunks(response: httpx.Response, url: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in coalesce(response.aiter_bytes(), CHUNK):
            yield chunk
    except httpx.HTTPError as exc:
        raise SourceError(redact_text(f"reading {redact_url(url)} failed: {exc}")) from exc


@asynccontextmanager
async def from_url(
    http: httpx.AsyncClient,
    url: str,
    policy: HostPolicy,
    on_bytes: Callable[[int], None],
) -> AsyncIterator[TrackedArchive]:
    """The archive at an HTTP(S) URL (GET, streamed)."""
    target = url
    for _ in range(_MAX_REDIRECTS + 1):
        await policy.check(target)
        try:
            response = await http.send(http.build_request("GET", target), stream=True)
        except httpx.HTTPError as exc:
            raise SourceError(redact_text(f"GET {redact_url(target)} failed: {exc}")) from exc
        if response.is_redirect and "location" in response.headers:
            target = str(response.url.join(response.headers["location"]))
            await response.aclose()
            continue
        break
    else:
        raise SourceError(f"too many redirects from {redact_url(url)}")
    try:
        if response.status_code != 200:
            raise SourceError(f"GET {redact_url(target)} answered {response.status_code}")
        length = response.headers.get("content-length")
        size = int(length) if length and length.isdigit() else None
        yield TrackedArchive(_filename(target), _chunks(response, target), size, on_bytes)
    finally:
        await response.aclose()
