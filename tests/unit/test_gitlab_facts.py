"""What the operator learns about a GitLab instance and its URLs: the version read once per
connection and again after its TTL or a route-level 404, capabilities found off, and which
archive URLs GitLab can fetch itself."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gitlab_ferry.effects.destinations import is_presigned_s3
from gitlab_ferry.effects.instances import InstanceFacts
from gitlab_ferry.effects.network import gitlab_can_fetch
from gitlab_ferry.gitlab import GitLabClient, errors
from gitlab_ferry.gitlab_versions import Capability, GitLabVersion


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_answering(answers: list[httpx.Response], seen: list[str]) -> GitLabClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return answers.pop(0)

    return GitLabClient(
        "https://gitlab.example.com", "glpat-x", transport=httpx.MockTransport(handler)
    )


def version(text: str) -> httpx.Response:
    return httpx.Response(200, json={"version": text, "revision": "abc"})


async def test_the_version_is_read_once_per_ttl() -> None:
    seen: list[str] = []
    clock = FakeClock()
    client = client_answering([version("17.11.3-ee"), version("18.7.0")], seen)
    facts = InstanceFacts(clock, ttl=60)
    assert (await facts.info(client)).version == GitLabVersion(17, 11, 3)
    clock.now += 59
    assert (await facts.info(client)).version == GitLabVersion(17, 11, 3)
    assert seen == ["/api/v4/version"]
    clock.now += 2
    assert (await facts.info(client)).version == GitLabVersion(18, 7, 0)
    assert len(seen) == 2


async def test_passes_starting_together_share_one_version_read() -> None:
    seen: list[str] = []
    client = client_answering([version("18.7.0")], seen)
    facts = InstanceFacts(FakeClock(), ttl=60)
    infos = await asyncio.gather(*(facts.info(client) for _ in range(5)))
    assert {info.version for info in infos} == {GitLabVersion(18, 7, 0)}
    assert seen == ["/api/v4/version"]


async def test_a_shared_read_that_fails_fails_every_waiter_and_is_tried_again() -> None:
    seen: list[str] = []
    answers = [httpx.Response(401, json={"message": "401 Unauthorized"}), version("18.7.0")]
    client = client_answering(answers, seen)
    facts = InstanceFacts(FakeClock(), ttl=60)
    found = await asyncio.gather(*(facts.info(client) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(item, errors.Unauthorized) for item in found)
    assert (await facts.info(client)).version == GitLabVersion(18, 7, 0)
    assert len(seen) == 2


async def test_a_disabled_capability_is_remembered_for_the_ttl_and_rereads_the_version() -> None:
    seen: list[str] = []
    clock = FakeClock()
    client = client_answering([version("17.11.0"), version("17.11.0"), version("17.11.0")], seen)
    facts = InstanceFacts(clock, ttl=60)
    assert (await facts.info(client)).usable(Capability.REMOTE_IMPORT)
    facts.disable(Capability.REMOTE_IMPORT)
    info = await facts.info(client)
    assert not info.usable(Capability.REMOTE_IMPORT)
    assert "turned off" in info.why_not(Capability.REMOTE_IMPORT)
    assert len(seen) == 2  # disabling also asks for the version again
    clock.now += 61
    assert (await facts.info(client)).usable(Capability.REMOTE_IMPORT)


async def test_a_version_gitlab_will_not_tell_stays_unknown() -> None:
    client = client_answering([httpx.Response(403, json={"message": "403 Forbidden"})], [])
    info = await InstanceFacts(FakeClock()).info(client)
    assert info.version is None
    assert not info.usable(Capability.NAMESPACE_ID_PARAMS)


async def test_a_bad_token_is_not_mistaken_for_an_unknown_version() -> None:
    client = client_answering([httpx.Response(401, json={"message": "401 Unauthorized"})], [])
    with pytest.raises(errors.Unauthorized):
        await InstanceFacts(FakeClock()).info(client)


async def test_project_statistics_are_asked_for() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "id": 1,
                "path": "app",
                "path_with_namespace": "g/app",
                "statistics": {"repository_size": 5, "wiki_size": 1, "job_artifacts_size": 99},
            },
        )

    async with GitLabClient(
        "https://gitlab.example.com", "t", transport=httpx.MockTransport(handler)
    ) as client:
        project = await client.project("g/app", statistics=True)
    assert seen[0].url.params["statistics"] == "true"
    assert project.statistics is not None
    assert project.statistics.exported_size == 6  # artifacts are not exported


@pytest.mark.parametrize(
    ("url", "fetchable"),
    [
        ("https://archives.example.com/a.tar.gz", True),
        ("https://203.0.113.7/a.tar.gz", True),
        ("http://archives.example.com/a.tar.gz", False),
        ("https://minio/a.tar.gz", False),
        ("https://minio.storage.svc/a.tar.gz", False),
        ("https://minio.storage.svc.cluster.local:9000/a.tar.gz", False),
        ("https://localhost:8443/a.tar.gz", False),
    ],
)
def test_gitlab_fetches_only_public_https_urls(url: str, fetchable: bool) -> None:
    assert gitlab_can_fetch(url) is fetchable


@pytest.mark.parametrize(
    ("url", "presigned"),
    [
        ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Signature=ab12", True),
        ("https://b.s3.amazonaws.com/k?AWSAccessKeyId=A&Signature=x&Expires=1", True),
        ("https://uploads.example.com/k?token=abc", False),
    ],
)
def test_presigned_s3_urls_are_recognised(url: str, presigned: bool) -> None:
    assert is_presigned_s3(url) is presigned
