"""S3 pre-signing and existence checks with botocore's SigV4 (effects layer).

The operator never moves export bytes into S3 itself: it signs a PUT URL that GitLab uploads
to (signing ``Content-Type: application/gzip``, which GitLab sends), a GET URL a destination
GitLab imports from, and checks the object afterwards with a signed HEAD. Signing is local;
only ``head`` talks to the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
import httpx
from botocore.config import Config

from gitlab_ferry.redact import redact_text

ARCHIVE_CONTENT_TYPE = "application/gzip"
#: SigV4 pre-signed URLs live at most seven days.
MAX_EXPIRY = 7 * 24 * 3600


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
