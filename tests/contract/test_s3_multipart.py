"""The operator's own S3 multipart upload (archives past S3's 5 GiB single-PUT cap) against
a real S3-compatible server (moto): parts of the configured size, the whole object, its
SHA-256, and no parts left behind when the stream fails."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from tests.support.s3 import S3_KEYS, S3Server, moto_s3

from gitlab_ferry.effects.s3 import (
    MIN_PART_SIZE,
    S3Credentials,
    S3Error,
    S3Location,
    part_size_for,
    upload_in_parts,
)

CREDENTIALS = S3Credentials(S3_KEYS["AWS_ACCESS_KEY_ID"], S3_KEYS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with moto_s3() as server:
        yield server


def location(s3: S3Server, bucket: str, key: str) -> S3Location:
    return S3Location(bucket, key, "us-east-1", endpoint=s3.endpoint, force_path_style=True)


async def chunks(data: bytes, size: int = 1024 * 1024, fail_at: int | None = None):
    for offset in range(0, len(data), size):
        if fail_at is not None and offset >= fail_at:
            raise OSError("the source went away")
        yield data[offset : offset + size]


async def test_an_archive_is_uploaded_in_parts(s3: S3Server) -> None:
    bucket = s3.bucket()
    data = os.urandom(12 * 1024 * 1024 + 123)
    async with httpx.AsyncClient() as http:
        meta = await upload_in_parts(
            http,
            location(s3, bucket, "big/app.tar.gz"),
            CREDENTIALS,
            chunks(data),
            part_size=MIN_PART_SIZE,
        )
    assert s3.get(bucket, "big/app.tar.gz") == data
    assert (meta.size, meta.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    head = s3.client.head_object(Bucket=bucket, Key="big/app.tar.gz")
    # A multipart ETag names its part count: three parts of 5 MiB, 5 MiB and the rest.
    assert head["ETag"].strip('"').endswith("-3")
    assert meta.etag == head["ETag"].strip('"')
    assert head["ContentType"] == "application/gzip"


async def test_a_failed_stream_leaves_no_parts_behind(s3: S3Server) -> None:
    bucket = s3.bucket()
    data = os.urandom(11 * 1024 * 1024)
    stream: AsyncIterator[bytes] = chunks(data, fail_at=8 * 1024 * 1024)
    async with httpx.AsyncClient() as http:
        with pytest.raises(OSError, match="went away"):
            await upload_in_parts(
                http,
                location(s3, bucket, "broken.tar.gz"),
                CREDENTIALS,
                stream,
                part_size=MIN_PART_SIZE,
            )
    assert s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3.client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


async def test_a_missing_bucket_is_an_s3_error(s3: S3Server) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(S3Error, match="CreateMultipartUpload"):
            await upload_in_parts(
                http,
                location(s3, "no-such-bucket", "x.tar.gz"),
                CREDENTIALS,
                chunks(b"x" * 10),
                part_size=MIN_PART_SIZE,
            )


def test_parts_grow_to_stay_within_ten_thousand() -> None:
    assert part_size_for(None, 16 * 1024**2) == 16 * 1024**2
    assert part_size_for(None, 1) == MIN_PART_SIZE
    huge = 400 * 1024**3
    assert part_size_for(huge, 16 * 1024**2) * 10_000 >= huge
