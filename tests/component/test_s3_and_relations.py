"""Reconcile passes that involve S3 and relation imports: an export GitLab pushes to a
pre-signed URL and the operator checks in the bucket, a project past S3's 5 GiB single-PUT
cap copied in parts by the operator, an S3 source read by GitLab or streamed from an
S3-compatible endpoint, relation re-imports followed tracker by tracker, and the object
loop that runs passes until it is stopped."""

from __future__ import annotations

import hashlib

import pytest
from component_harness import (
    NAMESPACE,
    export_object,
    import_object,
    large_project,
    posts,
    run_jobs,
)
from tests.support.s3 import S3_KEYS

from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS

PROJECT = "gitlab-org/gitlab-test"


def ready(operator, plural, name):
    status = operator.kube.body(plural, NAMESPACE, name)["status"]
    found = next(c for c in status["conditions"] if c["type"] == "Ready")
    return found["status"], found["reason"]


def s3_spec(s3, bucket, key):
    return {
        "bucket": bucket,
        "key": key,
        "endpoint": s3.endpoint,
        "forcePathStyle": True,
        "credentialsSecretRef": {"name": "bucket"},
    }


async def test_an_export_to_s3_is_checked_in_the_bucket(gitlabs, operator_for, s3):
    gitlab = await gitlabs()
    bucket = s3.bucket()
    operator = operator_for(gitlab, hosts=[s3.host])
    operator.kube.secrets[(NAMESPACE, "bucket")] = dict(S3_KEYS)
    spec = {"s3": s3_spec(s3, bucket, "backups/{project}.tar.gz")}
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT, **spec))
    await operator.export_pass("e")
    (post,) = posts(gitlab, "export")
    assert post.params is not None
    # GitLab got a pre-signed URL of the object (its log keeps no signature).
    assert str(post.params["upload"]["url"]).startswith(f"{s3.endpoint}/{bucket}/backups/")
    await run_jobs(gitlab)
    await operator.export_pass("e")
    assert ready(operator, EXPORTS, "e") == ("True", "Finished")
    status = operator.kube.body(EXPORTS, NAMESPACE, "e")["status"]
    assert (status["route"], status["artifact"]["location"]) == ("s3", "S3")
    stored = s3.get(bucket, status["artifact"]["key"])
    assert status["artifact"]["size"] == len(stored)


async def test_a_project_past_5_gib_is_copied_to_s3_in_parts(gitlabs, operator_for, s3):
    gitlab = await gitlabs()
    large_project(gitlab, "gitlab-org/monorepo")
    bucket = s3.bucket()
    operator = operator_for(gitlab, hosts=[s3.host], s3_part_size=5 * 1024**2)
    operator.kube.secrets[(NAMESPACE, "bucket")] = dict(S3_KEYS)
    spec = {"s3": s3_spec(s3, bucket, "mono.tar.gz")}
    operator.kube.put(EXPORTS, export_object("e", gitlab, "gitlab-org/monorepo", **spec))
    await operator.export_pass("e")
    (post,) = posts(gitlab, "export")
    assert post.params is not None
    assert "upload" not in post.params
    await run_jobs(gitlab)
    await operator.export_pass("e")  # copies the archive
    await operator.export_pass("e")  # sees it is current
    assert ready(operator, EXPORTS, "e") == ("True", "Finished")
    status = operator.kube.body(EXPORTS, NAMESPACE, "e")["status"]
    stored = s3.get(bucket, "mono.tar.gz")
    assert status["route"] == "relay"
    assert status["artifact"]["sha256"] == hashlib.sha256(stored).hexdigest()
    assert s3.client.head_object(Bucket=bucket, Key="mono.tar.gz")["ETag"].endswith('-3"')


@pytest.mark.parametrize(("endpoint", "route"), [(False, "s3"), (True, "stream")])
async def test_an_s3_source_is_read_by_gitlab_or_streamed(
    gitlabs, operator_for, s3, endpoint, route
):
    source = await gitlabs()
    archive_bytes = await _archive_of(source, PROJECT)
    bucket = s3.bucket()
    s3.client.put_object(
        Bucket=bucket, Key="in/app.tar.gz", Body=archive_bytes, ContentType="application/gzip"
    )
    destination = await gitlabs("empty", s3_endpoint=s3.endpoint)
    operator = operator_for(destination, hosts=[s3.host])
    operator.kube.secrets[(NAMESPACE, "bucket")] = dict(S3_KEYS)
    s3_source = {
        "bucket": bucket,
        "key": "in/app.tar.gz",
        "region": "us-east-1",
        "credentialsSecretRef": {"name": "bucket"},
    }
    if endpoint:
        s3_source |= {"endpoint": s3.endpoint, "forcePathStyle": True}
    operator.kube.put(
        IMPORTS,
        import_object("i", destination, "app", {"s3": s3_source}, namespacePath="platform"),
    )
    await operator.import_pass("i")
    await run_jobs(destination)
    await operator.import_pass("i")
    assert ready(operator, IMPORTS, "i") == ("True", "Finished")
    status = operator.kube.body(IMPORTS, NAMESPACE, "i")["status"]
    assert status["route"] == route
    if endpoint:
        assert status["sourceSha256"] == hashlib.sha256(archive_bytes).hexdigest()


async def test_relations_are_reimported_one_at_a_time(gitlabs, operator_for):
    gitlab = await gitlabs()
    gitlab.create_project({"path_with_namespace": "platform/copy", "owner": "root"})
    operator = operator_for(gitlab)
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT))
    await operator.export_pass("e")
    await run_jobs(gitlab)
    await operator.export_pass("e")
    spec = {"namespacePath": "platform", "relations": ["issues", "milestones"]}
    operator.kube.put(
        IMPORTS, import_object("i", gitlab, "copy", {"exportRef": {"name": "e"}}, **spec)
    )
    for _ in range(8):
        await operator.import_pass("i")
        await run_jobs(gitlab)
        operator.clock.advance(61)  # one download a minute from the source
    assert ready(operator, IMPORTS, "i") == ("True", "Finished")
    status = operator.kube.body(IMPORTS, NAMESPACE, "i")["status"]
    relations = [(r["relation"], r["status"]) for r in status["relationImports"]]
    assert relations == [("issues", "finished"), ("milestones", "finished")]
    assert [r.params["relation"] for r in posts(gitlab, "relation_import") if r.params] == [
        "issues",
        "milestones",
    ]


async def _archive_of(gitlab, project: str) -> bytes:
    """The project's export archive, as GitLab makes it."""
    from gitlab_ferry.gitlab import GitLabClient

    async with GitLabClient(gitlab.url, "glpat-root-token", now=gitlab.clock.time) as client:
        await client.schedule_export(project)
        await run_jobs(gitlab)
        chunks = bytearray()

        async def sink(chunk: bytes) -> None:
            chunks.extend(chunk)

        await client.download_export(project, sink)
        return bytes(chunks)
