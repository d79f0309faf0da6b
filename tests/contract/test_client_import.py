"""The client against the simulator over loopback HTTP: every import route to the end,
relation imports and their trackers, overwrite, and the lookups the operator relies on."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.support.archives import ArchiveServer

from gitlab_ferry.gitlab import ArchiveUpload, GitLabClient, S3Object, errors
from gitlab_ferry.gitlab_states import ExportState, ImportState, RelationImportState
from gitlab_ferry.reconcile.imports import ImportTarget
from gitlab_ferry_testbed.simulator import Simulator


async def _exported_archive(sim: Simulator, client: GitLabClient, project: str) -> bytes:
    await client.schedule_export(project)
    for _ in range(10):
        if (await client.export_status(project)).state is ExportState.FINISHED:
            break
        await sim.step()
        await sim.settle()
    chunks: list[bytes] = []

    async def keep(chunk: bytes) -> None:
        chunks.append(chunk)

    await client.download_export(project, keep)
    return b"".join(chunks)


async def _chunks(data: bytes, size: int = 10_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _upload(data: bytes) -> ArchiveUpload:
    return ArchiveUpload("project_export.tar.gz", _chunks(data), len(data))


async def _until_done(sim: Simulator, client: GitLabClient, project_id: int) -> ImportState:
    for _ in range(10):
        status = await client.import_status(project_id)
        if status.state in (ImportState.FINISHED, ImportState.FAILED):
            return status.state
        await sim.step()
        await sim.settle()
    return (await client.import_status(project_id)).state


@pytest.fixture
async def pair(simulator, client_for):
    source = await simulator()
    destination = await simulator(
        seed={
            "users": [{"username": "root", "token": "glpat-root-token", "admin": True}],
            "groups": [{"path": "target"}],
            "projects": [],
            "settings": {
                "instance": {"allow_local_requests_from_web_hooks_and_services": True},
                "behaviour": {"allow_http_remote_import": True},
            },
        }
    )
    archive = await _exported_archive(source, client_for(source), "group/sub/project")
    return source, destination, client_for(destination), archive


async def test_import_an_uploaded_archive(pair):
    source, destination, client, archive = pair
    target = ImportTarget(
        path="copy",
        name="The copy",
        namespace_path="target",
        override_params={"description": "Overridden"},
    )
    status = await client.import_archive(_upload(archive), target)
    assert status.state is ImportState.SCHEDULED
    assert status.import_type == "gitlab_project"
    assert status.correlation_id
    assert status.path_with_namespace == "target/copy"
    assert await _until_done(destination, client, status.id) is ImportState.FINISHED
    original = (await source.project_summary("group/sub/project"))["content"]
    copy = (await destination.project_summary("target/copy"))["content"]
    assert copy["repository_sha256"] == original["repository_sha256"]
    assert copy["relations_sha256"] == original["relations_sha256"]
    assert copy["description"] == "Overridden"
    project = await client.project("target/copy")
    assert project.name == "The copy"


@pytest.fixture
def archive_server(pair) -> Iterator[str]:
    """Serves the exported archive over HTTP, as an object store would."""
    server = ArchiveServer()
    yield server.serve("/exports/project.tar.gz", pair[3])
    server.close()


async def test_remote_import_from_a_url(pair, archive_server):
    source, destination, client, _ = pair
    status = await client.remote_import(
        archive_server, ImportTarget(path="remote", namespace_path="target")
    )
    assert status.state is ImportState.SCHEDULED
    assert await _until_done(destination, client, status.id) is ImportState.FINISHED
    original = (await source.project_summary("group/sub/project"))["content"]
    assert (await destination.project_summary("target/remote"))["content"][
        "repository_sha256"
    ] == original["repository_sha256"]


async def test_remote_import_from_s3(simulator, client_for, pair):
    import botocore.session
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = botocore.session.get_session().create_client(
            "s3",
            region_name="eu-west-1",
            endpoint_url=endpoint,
            aws_access_key_id="AKIATEST",
            aws_secret_access_key="test-secret",
        )
        bucket = f"b-{secrets.token_hex(3)}"
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        s3.put_object(
            Bucket=bucket, Key="a/project.tar.gz", Body=pair[3], ContentType="application/gzip"
        )
        destination = await simulator(
            seed={
                "users": [{"username": "root", "token": "glpat-root-token", "admin": True}],
                "groups": [{"path": "target"}],
                "settings": {
                    "instance": {"allow_local_requests_from_web_hooks_and_services": True},
                    "behaviour": {"allow_http_remote_import": True},
                },
            },
            s3_endpoint=endpoint,
        )
        client = client_for(destination)
        status = await client.remote_import_s3(
            S3Object("eu-west-1", bucket, "a/project.tar.gz", "AKIATEST", "test-secret"),
            ImportTarget(path="from-s3", namespace_path="target"),
        )
        assert status.state is ImportState.SCHEDULED
        assert await _until_done(destination, client, status.id) is ImportState.FINISHED
        with pytest.raises(errors.BadRequest, match="File not found"):
            await client.remote_import_s3(
                S3Object("eu-west-1", bucket, "missing.tar.gz", "AKIATEST", "test-secret"),
                ImportTarget(path="nope", namespace_path="target"),
            )
        s3.close()
    finally:
        server.stop()


async def test_taken_path_then_overwrite(pair):
    _, destination, client, archive = pair
    first = await client.import_archive(
        _upload(archive), ImportTarget("dup", namespace_path="target")
    )
    await _until_done(destination, client, first.id)
    with pytest.raises(errors.PathTaken):
        await client.import_archive(_upload(archive), ImportTarget("dup", namespace_path="target"))
    again = await client.import_archive(
        _upload(archive), ImportTarget("dup", namespace_path="target", overwrite=True)
    )
    assert again.id != first.id
    assert again.path_with_namespace.startswith("target/dup-")
    candidates = await client.search_projects("dup")
    assert again.id in {p.id for p in candidates}
    assert await _until_done(destination, client, again.id) is ImportState.FINISHED
    assert (await client.project("target/dup")).id == again.id


async def test_relation_import_and_its_tracker(pair):
    _, destination, client, archive = pair
    imported = await client.import_archive(
        _upload(archive), ImportTarget("with-issues", namespace_path="target")
    )
    await _until_done(destination, client, imported.id)
    tracker = await client.import_relation(
        _upload(archive), path="target/with-issues", relation="issues"
    )
    assert tracker.state is RelationImportState.CREATED
    assert tracker.relation == "issues"
    for _ in range(10):
        trackers = await client.relation_imports(imported.id)
        if trackers[-1].state is RelationImportState.FINISHED:
            break
        await destination.step()
        await destination.settle()
    assert [t.id for t in trackers] == [tracker.id]
    assert trackers[-1].state is RelationImportState.FINISHED


async def test_lookups(pair):
    _, destination, client, archive = pair
    assert (await client.current_user()).username == "root"
    namespace = await client.namespace("target")
    assert namespace.full_path == "target"
    assert (await client.namespace(namespace.id)).full_path == "target"
    assert await client.find_project("target/none") is None
    with pytest.raises(errors.NamespaceNotFound):
        await client.import_archive(_upload(archive), ImportTarget("x", namespace_path="nowhere"))
    status = await client.import_archive(
        _upload(archive), ImportTarget("gone", namespace_path="target")
    )
    await client.delete_project(status.id)
    await destination.settle()
    assert await client.find_project(status.id) is None
