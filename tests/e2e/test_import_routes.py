"""Every ProjectImport route ends Ready=True/Finished with GitLab's own fields in status, on
every GitLab version under test, and every target parameter (name, namespace, namespaceId,
namespacePath, overrideParams) reaches the destination in the form its version reads:

- ``source.url`` (a public https URL): remote-import, GitLab fetches it;
- ``source.urlSecretRef`` naming an http URL: GitLab fetches only https, so the operator
  streams it into ``POST /projects/import``;
- ``source.s3`` in AWS: remote-import-s3 where the version has it, else remote-import of a
  pre-signed URL (the simulator's S3 stand-in answers for AWS);
- ``source.s3`` on an S3-compatible endpoint (MinIO-style; moto here): streamed;
- ``exportRef`` to an export in S3-compatible storage, or kept on the source GitLab: streamed.
"""

from __future__ import annotations

import hashlib

import pytest
from ferry_e2e import EXPORTS, IMPORTS, create, events_of, export_object, token_secret
from import_e2e import (
    FAST_JOBS,
    assert_imported,
    import_body,
    import_posts,
    namespace_id,
    source_archives,
    wait_reason,
)
from tests.support.archives import ArchiveServer
from tests.support.processes import ROOT_TOKEN
from tests.support.s3 import S3_KEYS
from versions_e2e import gitlab, namespace_param, release, set_feature

GITLAB_TEST = "gitlab-org/gitlab-test"
GITALY = "gitlab-org/gitaly"
TERRAFORM = "platform/infra/terraform"
REMOTE_FLAG = "import_project_from_remote_file"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return source_archives(tmp_path_factory.mktemp("source"), [GITLAB_TEST, GITALY, TERRAFORM])


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


def _namespace_sent(params: dict, version: str, value: str | int) -> None:
    """The namespace travelled in exactly the one parameter ``version`` reads: before 18.7
    ``namespace`` (an id or a path), from 18.7 ``namespace_path`` or ``namespace_id``."""
    wanted = namespace_param(version)
    if wanted != "namespace" and isinstance(value, int):
        wanted = "namespace_id"
    # Form fields of the multipart upload arrive as strings.
    named = {
        k: str(params[k]) for k in ("namespace", "namespace_id", "namespace_path") if k in params
    }
    assert named == {wanted: str(value)}, params


def test_url_route_passes_name_namespace_path_and_override_params(
    gitlab_version,
    namespace,
    core_v1,
    custom_objects,
    simulators,
    operators,
    sources,
    tls,
    https_server,
):
    url = https_server.serve("/exports/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    destination = simulators(
        *FAST_JOBS, *gitlab(gitlab_version), "--ca-file", str(tls[0]), seed="empty"
    )
    # 13.12 shipped remote-import behind a flag that is off until an administrator turns it on.
    set_feature(destination, REMOTE_FLAG, True)
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    # The operator never fetches this source.url itself: the archive server is not allowed.
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
    assert obj["status"]["route"] == "remote-url"
    assert obj["status"]["gitlabVersion"] == gitlab_version
    (post,) = import_posts(destination)
    assert post["endpoint"] == "remote_import"
    assert post["status"] == 201
    params = post["params"]
    assert params["url"] == url
    assert params["path"] == "gitlab-test"
    assert params["name"] == "Ferried Test"
    _namespace_sent(params, gitlab_version, "gitlab-org")
    assert params["override_params"] == override
    # GitLab applied every parameter to the new project.
    assert project["name"] == "Ferried Test"
    assert project["description"] == "Imported by gitlab-ferry"
    assert project["visibility"] == "private"  # the archive says internal
    _same_content(project["content"], sources.content[GITLAB_TEST])
    assert https_server.gets("/exports/gitlab-test.tar.gz") == 1
    reasons = [e["reason"] for e in events_of(core_v1, namespace, "imp")]
    assert "Finished" in reasons


def test_an_http_url_from_a_secret_is_streamed_by_the_operator(
    gitlab_version, namespace, core_v1, custom_objects, simulators, operators, sources, http_server
):
    url = http_server.serve("/signed/gitaly.tar.gz", sources.archives[GITALY])
    signed = f"{url}?X-Amz-Signature=s3cr3t-signature"
    destination = simulators(*FAST_JOBS, *gitlab(gitlab_version), seed="empty")
    group_id = namespace_id(destination, "gitlab-org/sub")
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "archive-url", {"url": signed})
    hosts = f"{destination.host},{http_server.host}"
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": hosts})
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
    # GitLab takes only https for remote-import: the operator carried the archive.
    assert obj["status"]["route"] == "stream"
    (post,) = import_posts(destination)
    assert post["endpoint"] == "import"
    _namespace_sent(post["params"], gitlab_version, group_id)
    assert http_server.gets("/signed/gitaly.tar.gz") == 1
    archive = sources.archives[GITALY]
    assert obj["status"]["sourceSha256"] == hashlib.sha256(archive).hexdigest()
    assert project["namespace_id"] == group_id
    assert project["name"] == "gitaly"  # GitLab defaults the name to the path
    _same_content(project["content"], sources.content[GITALY])
    text = str(obj) + str(events_of(core_v1, namespace, "imp"))
    assert "s3cr3t-signature" not in text


def test_an_s3_source_in_aws_is_read_by_gitlab(
    gitlab_version, namespace, core_v1, custom_objects, simulators, operators, sources, s3_server
):
    bucket = s3_server.bucket()
    s3_server.client.put_object(
        Bucket=bucket,
        Key="archives/terraform.tar.gz",
        Body=sources.archives[TERRAFORM],
        ContentType="application/gzip",
    )
    destination = simulators(
        *FAST_JOBS, *gitlab(gitlab_version), "--s3-endpoint", s3_server.endpoint, seed="empty"
    )
    set_feature(destination, REMOTE_FLAG, True)
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
    posts = [(p["endpoint"], p["status"]) for p in import_posts(destination)]
    if release(gitlab_version) >= (15, 11):
        assert posts == [("remote_import_s3", 201)]
        assert obj["status"]["route"] == "s3"
        params = import_posts(destination)[0]["params"]
        assert params["bucket_name"] == bucket
        assert params["file_key"] == "archives/terraform.tar.gz"
        assert params["region"] == "us-east-1"
    elif release(gitlab_version) >= (14, 9):
        # Behind a flag that is off by default: tried once, then a pre-signed URL.
        assert posts == [("remote_import_s3", 404), ("remote_import", 201)]
        assert obj["status"]["route"] == "presigned-url"
    else:
        assert posts == [("remote_import", 201)]
        assert obj["status"]["route"] == "presigned-url"
    assert import_posts(destination)[-1]["params"]["namespace"] == "platform/apps"
    assert project["description"] == "from S3"
    _same_content(project["content"], sources.content[TERRAFORM])
    text = str(obj) + str(events_of(core_v1, namespace, "imp"))
    assert S3_KEYS["AWS_SECRET_ACCESS_KEY"] not in text
    assert "X-Amz-Signature" not in text


def test_an_s3_source_on_an_s3_compatible_endpoint_is_streamed(
    gitlab_version, namespace, core_v1, custom_objects, simulators, operators, sources, s3_server
):
    bucket = s3_server.bucket()
    archive = sources.archives[TERRAFORM]
    s3_server.client.put_object(
        Bucket=bucket, Key="minio/terraform.tar.gz", Body=archive, ContentType="application/gzip"
    )
    destination = simulators(*FAST_JOBS, *gitlab(gitlab_version), seed="empty")
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "bucket", S3_KEYS)
    hosts = f"{destination.host},{s3_server.host}"
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": hosts})
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
                    "key": "minio/terraform.tar.gz",
                    "region": "us-east-1",
                    "endpoint": s3_server.endpoint,
                    "forcePathStyle": True,
                    "credentialsSecretRef": {"name": "bucket"},
                }
            },
            namespacePath="platform/infra",
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, TERRAFORM)
    assert obj["status"]["route"] == "stream"
    assert "S3-compatible endpoint" in obj["status"]["plan"]["reason"] or any(
        "S3-compatible endpoint" in e["message"] for e in events_of(core_v1, namespace, "imp")
    )
    (post,) = import_posts(destination)
    assert post["endpoint"] == "import"
    _namespace_sent(post["params"], gitlab_version, "platform/infra")
    assert obj["status"]["sourceSha256"] == hashlib.sha256(archive).hexdigest()
    _same_content(project["content"], sources.content[TERRAFORM])
    assert S3_KEYS["AWS_SECRET_ACCESS_KEY"] not in str(obj)


def test_export_ref_to_an_export_in_s3_compatible_storage_is_streamed(
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
    assert obj["status"]["route"] == "stream"
    (post,) = import_posts(destination)
    assert post["endpoint"] == "import"
    # The operator read the export's own S3 object, not the source GitLab's download.
    assert source.requests("download") == []
    (key,) = [o["Key"] for o in s3_server.client.list_objects_v2(Bucket=bucket)["Contents"]]
    stored = s3_server.get(bucket, key)
    assert obj["status"]["sourceSha256"] == hashlib.sha256(stored).hexdigest()
    _same_content(project["content"], source.project(GITALY)["content"])
    assert "X-Amz-Signature" not in str(obj) + str(events_of(core_v1, namespace, "gitaly"))


def test_export_ref_to_an_export_kept_on_gitlab_is_streamed_by_the_operator(
    gitlab_version, namespace, core_v1, custom_objects, simulators, operators
):
    source = simulators(*FAST_JOBS, *gitlab(gitlab_version))
    destination = simulators(*FAST_JOBS, *gitlab(gitlab_version), seed="empty")
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
    _namespace_sent(params, gitlab_version, "platform")
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
