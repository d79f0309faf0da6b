"""moto's S3 server on loopback: the S3-compatible endpoint the S3 paths are tested against."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.processes import free_port

#: Credentials the moto S3 server and the S3 Secrets in tests share.
S3_KEYS = {"AWS_ACCESS_KEY_ID": "AKIATESTFERRY", "AWS_SECRET_ACCESS_KEY": "s3cr3t-test-key"}


@dataclass(frozen=True)
class S3Server:
    """moto's S3 server: an S3-compatible endpoint on loopback."""

    endpoint: str
    client: Any

    @property
    def host(self) -> str:
        return self.endpoint.split("://", 1)[1]

    def bucket(self) -> str:
        name = f"b-{secrets.token_hex(4)}"
        self.client.create_bucket(Bucket=name)
        return name

    def get(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    """moto in server mode, with a client that holds the test credentials."""
    import botocore.session
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3 = botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        yield S3Server(endpoint, s3)
    finally:
        s3.close()
        server.stop()
