"""S3 pre-signing, existence checks and multipart uploads with botocore's SigV4 (effects
layer).

Mostly the operator signs URLs for others: a PUT URL that GitLab uploads to (signing
``Content-Type: application/gzip``, which GitLab sends), a GET URL a destination GitLab
imports from, and a HEAD to check the object afterwards. Archives past S3's single-PUT cap
it uploads itself, in parts, holding one part in memory at a time. Signing is local; the
requests go through the operator's async HTTP client.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
import httpx
from botocore.config import Config

from gitlab_ferry.redact import redact_text

ARCHIVE_CONTENT_TYPE = "application/gzip"
#: SigV4 pre-signed URLs live at most seven days.
MAX_EXPIRY = 7 * 24 * 3600
#: S3's smallest part (all but the last) and most parts of a multipart upload.
MIN_PART_SIZE = 5 * 1024**2
MAX_PARTS = 10_000
_UPLOAD_ID = re.compile(r"<UploadId>([^<]+)</UploadId>")


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    region: str
    endpoint: str | None = None
    force_path_style: bool = False


@dataclass(frozen=True)
class S3ObjectMeta:
    size: int | None
    etag: str | None
    sha256: str | None = None


class S3Error(Exception):
    """S3 answered with an error other than "not found"."""


@lru_cache(maxsize=64)
def _client(credentials: S3Credentials, region: str, endpoint: str | None, path_style: bool) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "virtual"},
        ),
    )


def _signer(location: S3Location, credentials: S3Credentials) -> Any:
    return _client(credentials, location.region, location.endpoint, location.force_path_style)


def presign_put(location: S3Location, credentials: S3Credentials, expires_in: float) -> str:
    """A URL GitLab can PUT the archive to (``Content-Type: application/gzip`` signed)."""
    url: str = _signer(location, credentials).generate_presigned_url(
        "put_object",
        Params={
            "Bucket": location.bucket,
            "Key": location.key,
            "ContentType": ARCHIVE_CONTENT_TYPE,
        },
        ExpiresIn=int(min(max(expires_in, 60), MAX_EXPIRY)),
    )
    return url


def presign_get(location: S3Location, credentials: S3Credentials, expires_in: float) -> str:
    """A URL the archive can be downloaded from."""
    url: str = _signer(location, credentials).generate_presigned_url(
        "get_object",
        Params={"Bucket": location.bucket, "Key": location.key},
        ExpiresIn=int(min(max(expires_in, 60), MAX_EXPIRY)),
    )
    return url


async def head(
    http: httpx.AsyncClient, location: S3Location, credentials: S3Credentials
) -> S3ObjectMeta | None:
    """The object's size and ETag, or ``None`` if it does not exist."""
    url = _signer(location, credentials).generate_presigned_url(
        "head_object", Params={"Bucket": location.bucket, "Key": location.key}, ExpiresIn=300
    )
    try:
        response = await http.head(url)
    except httpx.HTTPError as exc:
        raise S3Error(redact_text(f"S3 HEAD failed: {exc}")) from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise S3Error(
            f"S3 answered {response.status_code} for s3://{location.bucket}/{location.key}"
        )
    length = response.headers.get("content-length")
    return S3ObjectMeta(
        size=int(length) if length and length.isdigit() else None,
        etag=(response.headers.get("etag") or "").strip('"') or None,
    )


def _signed(location: S3Location, credentials: S3Credentials, operation: str, **params: Any) -> str:
    url: str = _signer(location, credentials).generate_presigned_url(
        operation,
        Params={"Bucket": location.bucket, "Key": location.key, **params},
        ExpiresIn=3600,
    )
    return url


async def _send(
    http: httpx.AsyncClient, method: str, url: str, what: str, **kwargs: Any
) -> httpx.Response:
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise S3Error(redact_text(f"S3 {what} failed: {exc}")) from exc
    if response.status_code != 200:
        raise S3Error(f"S3 answered {response.status_code} to {what}: {response.text[:200]}")
    return response


def part_size_for(size: int | None, preferred: int) -> int:
    """A part size that keeps an archive of ``size`` bytes within S3's 10,000 parts."""
    part = max(preferred, MIN_PART_SIZE)
    if size is not None:
        part = max(part, -(-size // MAX_PARTS))
    return part


async def _parts(chunks: AsyncIterator[bytes], part_size: int) -> AsyncIterator[bytes]:
    """The stream cut into parts of ``part_size`` bytes (the last one shorter)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= part_size:
            yield bytes(buffer[:part_size])
            del buffer[:part_size]
    if buffer:
        yield bytes(buffer)


async def upload_in_parts(
    http: httpx.AsyncClient,
    location: S3Location,
    credentials: S3Credentials,
    chunks: AsyncIterator[bytes],
    *,
    part_size: int,
) -> S3ObjectMeta:
    """Upload a stream as an S3 multipart upload; aborts the upload on failure so S3 keeps
    no parts. Returns the object's size, ETag and SHA-256."""
    started = await _send(
        http,
        "POST",
        _signed(location, credentials, "create_multipart_upload", ContentType=ARCHIVE_CONTENT_TYPE),
        "CreateMultipartUpload",
        headers={"Content-Type": ARCHIVE_CONTENT_TYPE},
    )
    found = _UPLOAD_ID.search(started.text)
    if found is None:
        raise S3Error("S3 answered CreateMultipartUpload without an UploadId")
    upload_id = found.group(1)
    digest, size = hashlib.sha256(), 0
    etags: list[str] = []
    try:
        async for part in _parts(chunks, part_size):
            number = len(etags) + 1
            digest.update(part)
            size += len(part)
            url = _signed(
                location, credentials, "upload_part", UploadId=upload_id, PartNumber=number
            )
            answer = await _send(http, "PUT", url, f"UploadPart {number}", content=part)
            etags.append(answer.headers.get("etag", ""))
        body = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(tag)}</ETag></Part>"
            for n, tag in enumerate(etags, start=1)
        )
        done = await _send(
            http,
            "POST",
            _signed(location, credentials, "complete_multipart_upload", UploadId=upload_id),
            "CompleteMultipartUpload",
            content=f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode(),
        )
        if "<Error>" in done.text:
            # S3 may answer 200 and report the failure in the body.
            raise S3Error(f"S3 could not complete the upload: {done.text[:200]}")
    except BaseException:
        abort = _signed(location, credentials, "abort_multipart_upload", UploadId=upload_id)
        # When even the abort fails, S3's lifecycle rules expire the abandoned parts.
        with contextlib.suppress(httpx.HTTPError):
            await http.delete(abort)
        raise
    etag = re.search(r"<ETag>([^<]+)</ETag>", done.text)
    return S3ObjectMeta(
        size=size,
        etag=etag.group(1).replace("&quot;", "").strip('"') if etag else None,
        sha256=digest.hexdigest(),
    )
