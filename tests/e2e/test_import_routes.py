"""Every ProjectImport route ends Ready=True/Finished with GitLab's own fields in status, and
every target parameter (name, namespace, namespaceId, namespacePath, overrideParams) reaches
the destination GitLab: ``source.url`` and ``source.urlSecretRef`` (remote-import),
``source.s3`` (remote-import-s3), and ``exportRef`` to an export in S3 (remote-import of a
pre-signed GET URL) or kept on the source GitLab (streamed by the operator into
``POST /projects/import``).
"""

from __future__ import annotations

import pytest
from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    ROOT_TOKEN,
    create,
    events_of,
    export_object,
    token_secret,
)
from import_e2e import (
    FAST_JOBS,
    ArchiveServer,
    assert_imported,
    import_body,
    import_posts,
    namespace_id,
    self_signed,
    source_archives,
    wait_reason,
)
from tests.support.s3 import S3_KEYS

GITLAB_TEST = "gitlab-org/gitlab-test"
GITALY = "gitlab-org/gitaly"
TERRAFORM = "platform/infra/terraform"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return source_archives(tmp_path_factory.mktemp("source"), [GITLAB_TEST, GITALY, TERRAFORM])


@pytest.fixture
def tls(tmp_path):
    return self_signed(tmp_path / "tls")


@pytest.fixture
def https_server(tls):
    server = ArchiveServer(tls)
    yield server
    server.close()


@pytest.fixture
def http_server():
    server = ArchiveServer()
    yield server
    server.close()


def _same_content(copy: dict, original: dict) -> None:
    assert copy["repository_sha256"] == original["repository_sha256"]
    assert copy["relations_sha256"] == original["relations_sha256"]


def test_url_route_passes_name_namespace_path_and_override_params(
    namespace, core_v1, custom_objects, simulators, operators, sources, tls, https_server
):
    url = https_server.serve("/exports/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    destination = simulators(*FAST_JOBS, "--ca-file", str(tls[0]), seed="empty")
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    # The operator never fetches a source.url itself: the archive server is not allowed.
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})
    override = {"description": "Imported by gitlab-ferry", "visibility": "private"}
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp",
            destination.url,
            "gitlab-test",
            {"url": url},
            name="Ferried Test",
            namespacePath="gitlab-org",
            overrideParams=override,
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, GITLAB_TEST)
    (post,) = import_posts(destination)
    assert post["endpoint"] == "remote_import"
    assert post["status"] == 201
    params = post["params"]
    assert params["url"] == url
    assert params["path"] == "gitlab-test"
    assert params["name"] == "Ferried Test"
    assert params["namespace_path"] == "gitlab-org"
    assert "namespace" not in params
    assert "namespace_id" not in params
    assert params["override_params"] == override
    # GitLab applied every parameter to the new project.
    assert project["name"] == "Ferried Test"
    assert project["description"] == "Imported by gitlab-ferry"
    assert project["visibility"] == "private"  # the archive says internal
    _same_content(project["content"], sources.content[GITLAB_TEST])
    assert https_server.gets("/exports/gitlab-test.tar.gz") == 1
    reasons = [e["reason"] for e in events_of(core_v1, namespace, "imp")]
    assert "Finished" in reasons


def test_url_secret_ref_route_passes_namespace_id_and_keeps_the_url_secret(
    namespace, core_v1, custom_objects, simulators, operators, sources, http_server
):
    # A URL from a Secret is not checked by the CRD's https rule; GitLab (here with the
    # built-in seed's http allowance) decides whether it accepts it.
    url = http_server.serve("/signed/gitaly.tar.gz", sources.archives[GITALY])
    signed = f"{url}?X-Amz-Signature=s3cr3t-signature"
    destination = simulators(*FAST_JOBS, seed="empty")
    group_id = namespace_id(destination, "gitlab-org/sub")
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "archive-url", {"url": signed})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp",
            destination.url,
            "gitaly",
            {"urlSecretRef": {"name": "archive-url", "key": "url"}},
            namespaceId=group_id,
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, "gitlab-org/sub/gitaly")
    (post,) = import_posts(destination)
    assert post["endpoint"] == "remote_import"
    assert post["params"]["namespace_id"] == group_id
    assert post["params"]["url"] == url  # the simulator's log strips the query
    assert project["namespace_id"] == group_id
    assert project["name"] == "gitaly"  # GitLab defaults the name to the path
    _same_content(project["content"], sources.content[GITALY])
    text = str(obj) + str(events_of(core_v1, namespace, "imp"))
    assert "s3cr3t-signature" not in text


def test_s3_route_passes_the_deprecated_namespace(
    namespace, core_v1, custom_objects, simulators, operators, sources, s3_server
):
    bucket = s3_server.bucket()
    s3_server.client.put_object(
        Bucket=bucket,
        Key="archives/terraform.tar.gz",
        Body=sources.archives[TERRAFORM],
        ContentType="application/gzip",
    )
    destination = simulators(*FAST_JOBS, "--s3-endpoint", s3_server.endpoint, seed="empty")
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "bucket", S3_KEYS)
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp",
            destination.url,
            "terraform",
            {
                "s3": {
                    "bucket": bucket,
                    "key": "archives/terraform.tar.gz",
                    "region": "us-east-1",
                    "credentialsSecretRef": {"name": "bucket"},
                }
            },
            namespace="platform/apps",
            overrideParams={"description": "from S3"},
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, "platform/apps/terraform")
    (post,) = import_posts(destination)
    assert post["endpoint"] == "remote_import_s3"
    params = post["params"]
    assert params["bucket_name"] == bucket
    assert params["file_key"] == "archives/terraform.tar.gz"
    assert params["region"] == "us-east-1"
    assert params["namespace"] == "platform/apps"
    assert project["description"] == "from S3"
    _same_content(project["content"], sources.content[TERRAFORM])
    text = str(obj) + str(events_of(core_v1, namespace, "imp"))
    assert S3_KEYS["AWS_SECRET_ACCESS_KEY"] not in text


def test_export_ref_to_an_export_in_s3_is_pulled_by_the_destination(
    namespace, core_v1, custom_objects, simulators, operators, s3_server
):
    bucket = s3_server.bucket()
    source = simulators(*FAST_JOBS)
    destination = simulators(*FAST_JOBS, seed="empty")
    for name, token in (("gitlab-token", ROOT_TOKEN), ("destination-token", ROOT_TOKEN)):
        token_secret(core_v1, namespace, name, {"token": token})
    token_secret(core_v1, namespace, "bucket", S3_KEYS)
    hosts = f"{source.host},{destination.host},{s3_server.host}"
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": hosts})
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object(
            "gitaly",
            source.url,
            GITALY,
            s3={
                "bucket": bucket,
                "key": "exports/{project}.tar.gz",
                "endpoint": s3_server.endpoint,
                "forcePathStyle": True,
                "credentialsSecretRef": {"name": "bucket"},
            },
        ),
    )
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "gitaly",
            destination.url,
            "gitaly",
            {"exportRef": {"name": "gitaly"}},
            namespacePath="gitlab-org",
        ),
    )
    obj = wait_reason(custom_objects, namespace, "gitaly", "Finished", timeout=90)
    project = assert_imported(obj, destination, GITALY)
    (post,) = import_posts(destination)
    assert post["endpoint"] == "remote_import"
    # The destination pulled the export's own S3 object by a pre-signed URL.
    assert post["params"]["url"].startswith(f"{s3_server.endpoint}/{bucket}/exports/")
    # The archive never went through the operator, nor a download from the source.
    assert source.requests("download") == []
    assert "sourceSha256" not in obj["status"]
    _same_content(project["content"], source.project(GITALY)["content"])
    assert "X-Amz-Signature" not in str(obj) + str(events_of(core_v1, namespace, "gitaly"))


def test_export_ref_to_an_export_kept_on_gitlab_is_streamed_by_the_operator(
    namespace, core_v1, custom_objects, simulators, operators
):
    source = simulators(*FAST_JOBS)
    destination = simulators(*FAST_JOBS, seed="empty")
    for name in ("gitlab-token", "destination-token"):
        token_secret(core_v1, namespace, name, {"token": ROOT_TOKEN})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}"})
    create(custom_objects, EXPORTS, namespace, export_object("docs", source.url, "gitlab-org/docs"))
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "docs",
            destination.url,
            "handbook-docs",
            {"exportRef": {"name": "docs"}},
            namespacePath="platform",
            name="Docs",
            overrideParams={"description": "streamed"},
        ),
    )
    obj = wait_reason(custom_objects, namespace, "docs", "Finished", timeout=90)
    project = assert_imported(obj, destination, "platform/handbook-docs")
    (post,) = import_posts(destination)
    assert post["endpoint"] == "import"
    params = post["params"]
    assert params["file"]["filename"].endswith(".tar.gz")
    assert params["path"] == "handbook-docs"
    assert params["name"] == "Docs"
    assert params["namespace_path"] == "platform"
    # The bytes the operator streamed are the source's export file, to the byte.
    (export,) = source.project("gitlab-org/docs")["exports"]
    assert obj["status"]["sourceSha256"] == export["file"]["sha256"]
    assert obj["status"]["sourceSize"] == export["file"]["size"] == params["file"]["size"]
    assert len(source.requests("download")) == 1
    # Waiting for the export costs the destination nothing per change of the export: the
    # path is looked up when the wait begins and before the import request (once more if the
    # rate-limit budget put that request off).
    assert len(source.requests("export_status")) >= 2
    assert len(destination.requests("project")) <= 3, destination.requests("project")
    assert project["name"] == "Docs"
    assert project["description"] == "streamed"
    original = source.project("gitlab-org/docs")["content"]
    _same_content(project["content"], original)
