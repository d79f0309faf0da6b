"""The simulator's S3 stand-in also answers for Amazon S3 URLs given to remote-import (a
pre-signed GET URL of an object in AWS), as it does for remote-import-s3, so the routes that
hand GitLab such a URL can run without AWS."""

from __future__ import annotations

import pytest

from gitlab_ferry_testbed.simulator.remote import S3Gateway

ENDPOINT = "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("url", "fetched"),
    [
        (
            "https://archives.s3.us-east-1.amazonaws.com/in/app.tar.gz?X-Amz-Signature=ab",
            f"{ENDPOINT}/archives/in/app.tar.gz?X-Amz-Signature=ab",
        ),
        (
            "https://archives.s3.amazonaws.com/app.tar.gz",
            f"{ENDPOINT}/archives/app.tar.gz",
        ),
        (
            "https://s3.eu-west-1.amazonaws.com/archives/app.tar.gz?x=1",
            f"{ENDPOINT}/archives/app.tar.gz?x=1",
        ),
        ("https://archives.example.com/app.tar.gz", "https://archives.example.com/app.tar.gz"),
    ],
)
def test_aws_urls_are_fetched_from_the_stand_in(url: str, fetched: str) -> None:
    assert S3Gateway(ENDPOINT).stand_in(url) == fetched


def test_without_a_stand_in_aws_urls_are_left_alone() -> None:
    url = "https://archives.s3.amazonaws.com/app.tar.gz"
    assert S3Gateway(None).stand_in(url) == url
