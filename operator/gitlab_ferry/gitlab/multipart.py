"""A streaming ``multipart/form-data`` body (gitlab layer).

GitLab's archive uploads are multipart. Archives can be many gigabytes, so the body is
produced chunk by chunk from an async byte source, with a ``Content-Length`` computed up
front when the archive's size is known. No I/O of its own; no httpx.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ArchiveUpload:
    """An archive to upload: a file name ending in .gz, its bytes, and its size if known.

    ``chunks`` can be consumed once; a retry needs a new ``ArchiveUpload``.
    """

    filename: str
    chunks: AsyncIterator[bytes]
    size: int | None = None


class SizeMismatch(ValueError):
    """The archive source produced a different number of bytes than announced."""


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartStream:
    """Form fields followed by one file part, as an async iterator of bytes."""

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        file_field: str,
        upload: ArchiveUpload,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or f"gitlab-ferry-{secrets.token_hex(16)}"
        self._upload = upload
        head = b"".join(
            self._part_header(name) + value.encode() + b"\r\n" for name, value in fields
        )
        file_header = self._part_header(
            file_field, filename=upload.filename, content_type="application/octet-stream"
        )
        self._head = head + file_header
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    def _part_header(
        self, name: str, *, filename: str | None = None, content_type: str | None = None
    ) -> bytes:
        disposition = f'form-data; name="{_quote(name)}"'
        if filename is not None:
            disposition += f'; filename="{_quote(filename)}"'
        lines = [f"--{self.boundary}", f"Content-Disposition: {disposition}"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def content_length(self) -> int | None:
        if self._upload.size is None:
            return None
        return len(self._head) + self._upload.size + len(self._tail)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._head
        sent = 0
        async for chunk in self._upload.chunks:
            if chunk:
                sent += len(chunk)
                yield chunk
        if self._upload.size is not None and sent != self._upload.size:
            raise SizeMismatch(
                f"archive source produced {sent} bytes, {self._upload.size} were announced"
            )
        yield self._tail
