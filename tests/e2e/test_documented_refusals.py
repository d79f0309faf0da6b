"""Refusals GitLab documents stop cleanly: a Stalled condition whose reason names the limit and
whose message says what to change, and no second upload or export request until the spec
changes or the retry annotation asks. And what S3's 5 GiB single-upload cap means for exports:
a large project is copied to S3 in parts by the operator, and an upload URL into S3 stops.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time

import pytest
from ferry_e2e import (
    EXPORTS,
    GROUP,
    IMPORTS,
    VERSION,
    condition,
    create,
    events_of,
    export_object,
    get_object,
    token_secret,
    wait_object,
)
from import_e2e import FAST_JOBS, import_body, import_posts, seed_project, wait_reason
from tests.support.archives import ArchiveServer
from tests.support.processes import ROOT_TOKEN
from tests.support.s3 import S3_KEYS

#: Longer than several recheck intervals of the test operator (3 s): time for a loop to show.
QUIET = 10.0
RETRY = f"{GROUP}/retry"


def _retry(custom_objects, plural: str, namespace: str, name: str, value: str) -> None:
    custom_objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, name, {"metadata": {"annotations": {RETRY: value}}}
    )


def _stalled(obj: dict, reason: str, *words: str) -> None:
    ready = condition(obj)
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert condition(obj, "Stalled")["status"] == "True"
    for word in (*words, RETRY):
        assert word in ready["message"], ready["message"]
    assert obj["status"]["refusal"]["reason"] == reason


def _big_archive(size: int) -> bytes:
    """gzip bytes of about ``size`` that do not compress."""
    return gzip.compress(os.urandom(size), compresslevel=0)


def test_an_archive_over_the_import_size_is_not_streamed_again(
    namespace, core_v1, custom_objects, simulators, operators
):
    server = ArchiveServer()
    try:
        url = server.serve("/big.tar.gz", _big_archive(1536 * 1024))
        destination = simulators(*FAST_JOBS, "--max-import-size", "1", seed="empty")
        token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
        hosts = f"{destination.host},{server.host}"
        operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": hosts})
        create(
            custom_objects,
            IMPORTS,
            namespace,
            import_body("imp", destination.url, "big", {"url": url}, namespacePath="gitlab-org"),
        )
        obj = wait_reason(custom_objects, namespace, "imp", "ImportTooLarge")
        time.sleep(QUIET)
        obj = get_object(custom_objects, IMPORTS, namespace, "imp")
        _stalled(obj, "ImportTooLarge", "max_import_size")
        assert [p["status"] for p in import_posts(destination)] == [413]
        assert server.gets("/big.tar.gz") == 1
        reasons = {e["reason"]: e["type"] for e in events_of(core_v1, namespace, "imp")}
        assert reasons["ImportTooLarge"] == "Warning"
        # The administrator raises the limit; one annotation sends the archive once more.
        destination.control("PATCH", "/settings", json={"instance": {"max_import_size": 0}})
        _retry(custom_objects, IMPORTS, namespace, "imp", "raised")
        wait_object(
            custom_objects,
            IMPORTS,
            namespace,
            "imp",
            lambda o: len(import_posts(destination)) == 2,
            timeout=60,
            what="the import sent again",
        )
        assert [p["status"] for p in import_posts(destination)] == [413, 201]
        assert server.gets("/big.tar.gz") == 2
    finally:
        server.close()


def test_an_export_over_the_export_size_is_not_requested_again(
    namespace, core_v1, custom_objects, simulators, operators
):
    source = simulators(*FAST_JOBS, "--max-export-size", "1")
    seed_project(source, "gitlab-org/huge", statistics={"repository_size": "2GiB"})
    token_secret(core_v1, namespace, "gitlab-token", {"token": ROOT_TOKEN})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": source.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", source.url, "gitlab-org/huge"))
    wait_reason(custom_objects, namespace, "e", "ExportTooLarge", plural=EXPORTS)
    time.sleep(QUIET)
    obj = get_object(custom_objects, EXPORTS, namespace, "e")
    _stalled(obj, "ExportTooLarge", "max_export_size")
    assert [r["status"] for r in source.received_posts("export")] == [400]
    source.control("PATCH", "/settings", json={"instance": {"max_export_size": 0}})
    _retry(custom_objects, EXPORTS, namespace, "e", "raised")
    wait_reason(custom_objects, namespace, "e", "Finished", plural=EXPORTS)
    assert [r["status"] for r in source.received_posts("export")] == [400, 202]


@pytest.mark.parametrize(
    ("serve", "options", "reason", "words"),
    [
        pytest.param(
            {"content_type": "text/html"}, (), "RemoteFileContentType", ("application/gzip",),
            id="content-type",
        ),
        pytest.param(
            {"with_length": False}, (), "RemoteFileSizeUnknown", ("Content-Length",),
            id="no-content-length",
        ),
        pytest.param(
            {}, ("--max-import-remote-file-size", "1"), "RemoteFileTooLarge",
            ("max_import_remote_file_size",), id="over-the-remote-size",
        ),
    ],
)  # fmt: skip
def test_remote_import_checks_of_the_archive_stop_cleanly(
    namespace, core_v1, custom_objects, simulators, operators, tls, serve, options, reason, words
):
    server = ArchiveServer(tls)
    try:
        url = server.serve("/a.tar.gz", _big_archive(1536 * 1024), **serve)
        destination = simulators(*FAST_JOBS, *options, "--ca-file", str(tls[0]), seed="empty")
        token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
        operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})
        create(
            custom_objects,
            IMPORTS,
            namespace,
            import_body("imp", destination.url, "a", {"url": url}, namespacePath="gitlab-org"),
        )
        wait_reason(custom_objects, namespace, "imp", reason)
        time.sleep(QUIET)
        _stalled(get_object(custom_objects, IMPORTS, namespace, "imp"), reason, *words)
        assert [(p["endpoint"], p["status"]) for p in import_posts(destination)] == [
            ("remote_import", 400)
        ]
    finally:
        server.close()


def test_a_project_past_5_gib_is_copied_to_s3_in_parts(
    namespace, core_v1, custom_objects, simulators, operators, s3_server
):
    source = simulators(*FAST_JOBS)
    # GitLab's statistics say 6 GiB; the archive itself is small.
    seed_project(
        source,
        "gitlab-org/monorepo",
        repository_size="12MiB",
        statistics={"repository_size": "6GiB"},
    )
    bucket = s3_server.bucket()
    token_secret(core_v1, namespace, "gitlab-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "bucket", S3_KEYS)
    operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{s3_server.host}",
            "GITLAB_FERRY_S3_PART_SIZE": str(5 * 1024 * 1024),
        },
    )
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object(
            "mono",
            source.url,
            "gitlab-org/monorepo",
            s3={
                "bucket": bucket,
                "key": "backups/monorepo.tar.gz",
                "endpoint": s3_server.endpoint,
                "forcePathStyle": True,
                "credentialsSecretRef": {"name": "bucket"},
            },
        ),
    )
    obj = wait_reason(custom_objects, namespace, "mono", "Finished", plural=EXPORTS, timeout=90)
    status = obj["status"]
    assert status["route"] == "relay"
    # GitLab kept the archive (no upload URL); the operator downloaded it once and uploaded it.
    (post,) = source.received_posts("export")
    assert "upload" not in post["params"]
    assert len(source.requests("download")) == 1
    (export,) = source.project("gitlab-org/monorepo")["exports"]
    stored = s3_server.get(bucket, "backups/monorepo.tar.gz")
    assert hashlib.sha256(stored).hexdigest() == export["file"]["sha256"]
    assert status["artifact"]["sha256"] == export["file"]["sha256"]
    assert status["artifact"]["size"] == len(stored)
    head = s3_server.client.head_object(Bucket=bucket, Key="backups/monorepo.tar.gz")
    assert head["ETag"].strip('"').endswith("-3")  # 12 MiB in parts of 5 MiB
    assert S3_KEYS["AWS_SECRET_ACCESS_KEY"] not in str(obj)


def test_an_upload_url_into_s3_past_5_gib_stops_before_exporting(
    namespace, core_v1, custom_objects, simulators, operators, s3_server
):
    source = simulators(*FAST_JOBS)
    seed_project(source, "gitlab-org/monorepo", statistics={"repository_size": "6GiB"})
    bucket = s3_server.bucket()
    presigned = s3_server.client.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": "m.tar.gz", "ContentType": "application/gzip"},
        ExpiresIn=3600,
    )
    token_secret(core_v1, namespace, "gitlab-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "upload-url", {"url": presigned})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{s3_server.host}"})
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object(
            "mono",
            source.url,
            "gitlab-org/monorepo",
            upload={"urlSecretRef": {"name": "upload-url"}},
        ),
    )
    obj = wait_reason(custom_objects, namespace, "mono", "S3UploadTooLarge", plural=EXPORTS)
    assert "spec.s3" in condition(obj)["message"]
    assert condition(obj, "Stalled")["status"] == "True"
    time.sleep(QUIET)
    assert source.received_posts("export") == []
