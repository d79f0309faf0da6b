"""A ProjectExport against a simulated GitLab goes none -> queued/started -> finished, for each
destination, and its status and Events say so at each step."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from ferry_e2e import (
    EXPORTS,
    condition,
    create,
    events_of,
    export_object,
    get_object,
    token_secret,
    wait_object,
)
from kubernetes import client
from tests.support.s3 import S3_KEYS

SIM_TIMING = ("--export-queue-delay", "1", "--export-duration", "2")


class StatusTrail:
    """Records every distinct (exportStatus, Ready reason) an object shows while it runs."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str, name: str) -> None:
        self.seen: list[tuple[Any, Any]] = []
        self._stop = threading.Event()

        def watch() -> None:
            while True:
                # The look after stop() records the state the test has just waited for.
                stopping = self._stop.is_set()
                obj = get_object(api, EXPORTS, namespace, name)
                if obj is not None:
                    entry = (
                        (obj.get("status") or {}).get("exportStatus"),
                        condition(obj).get("reason"),
                    )
                    if not self.seen or self.seen[-1] != entry:
                        self.seen.append(entry)
                if stopping:
                    return
                self._stop.wait(0.1)

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()

    def stop(self) -> list[tuple[Any, Any]]:
        self._stop.set()
        self._thread.join(5)
        return self.seen


@pytest.fixture
def gitlab(simulators):
    return simulators(*SIM_TIMING)


def _settings(gitlab) -> dict[str, str]:
    return {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host}


def test_export_kept_on_gitlab(namespace, core_v1, custom_objects, gitlab, operators):
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators([namespace], _settings(gitlab))
    trail = StatusTrail(custom_objects, namespace, "snapshot")
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object("snapshot", gitlab.url, "gitlab-org/gitlab-test", description="before"),
    )
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "snapshot",
        lambda o: condition(o).get("reason") == "Finished",
        timeout=60,
        what="Finished",
    )
    seen = trail.stop()
    status = obj["status"]
    assert status["exportStatus"] == "finished"
    assert status["projectId"] == gitlab.project("gitlab-org/gitlab-test")["id"]
    assert status["pathWithNamespace"] == "gitlab-org/gitlab-test"
    assert status["links"]["apiUrl"].endswith("/export/download")
    assert status["links"]["expiresAt"] > status["startedAt"]
    assert status["artifact"]["location"] == "GitLab"
    assert status["attempts"] == 1
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["plan"]["action"] == "UpToDate"
    assert condition(obj)["status"] == "True"
    assert condition(obj)["observedGeneration"] == obj["metadata"]["generation"]
    # GitLab's own states passed by on the way, in order.
    states = [state for state, _ in seen if state]
    assert states[-1] == "finished"
    assert {"queued", "started"} & set(states), seen
    # One export request, and the description passed through.
    posts = gitlab.requests("export")
    assert len([r for r in posts if r["method"] == "POST"]) == 1
    reasons = [event["reason"] for event in events_of(core_v1, namespace, "snapshot")]
    assert "RequestExport" in reasons
    assert "Finished" in reasons
    assert reasons.index("RequestExport") < reasons.index("Finished")


def _archive_is_valid(data: bytes) -> dict[str, bytes]:
    """The archive's members, after checking it is a GitLab export (VERSION, project.json)."""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {
            m.name.removeprefix("./"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
    assert members["VERSION"].strip() == b"0.2.4"
    assert b"description" in members["tree/project.json"]
    return members


def test_export_to_s3_holds_a_valid_archive(
    namespace, core_v1, custom_objects, gitlab, operators, s3_server
):
    bucket = s3_server.bucket()
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    token_secret(core_v1, namespace, "bucket", S3_KEYS)
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{gitlab.host},{s3_server.host}"})
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object(
            "backup",
            gitlab.url,
            "gitlab-org/gitaly",
            s3={
                "bucket": bucket,
                "key": "backups/{project}/{date}.tar.gz",
                "endpoint": s3_server.endpoint,
                "forcePathStyle": True,
                "credentialsSecretRef": {"name": "bucket"},
            },
        ),
    )
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "backup",
        lambda o: condition(o).get("reason") == "Finished",
        timeout=60,
        what="Finished",
    )
    artifact = obj["status"]["artifact"]
    assert artifact["location"] == "S3"
    assert artifact["bucket"] == bucket
    assert artifact["key"].startswith("backups/gitlab-org/gitaly/")
    data = s3_server.get(bucket, artifact["key"])
    assert artifact["size"] == len(data)
    members = _archive_is_valid(data)
    assert (
        len(members["project.bundle"])
        == gitlab.project("gitlab-org/gitaly")["content"]["repository_size"]
    )
    # The upload URL is a credential: GitLab got it, status and events never show it.
    text = str(obj["status"]) + str(events_of(core_v1, namespace, "backup"))
    assert "X-Amz-Signature" not in text
    assert S3_KEYS["AWS_SECRET_ACCESS_KEY"] not in text


class Receiver:
    """An HTTP endpoint that keeps what is PUT or POSTed to it (a stand-in for any storage
    that accepts pre-signed uploads)."""

    def __init__(self) -> None:
        import http.server

        received: list[dict[str, Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _keep(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(200)
                self.end_headers()

            do_PUT = do_POST = _keep

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_export_to_an_upload_url_from_a_secret(
    namespace, core_v1, custom_objects, gitlab, operators, receiver, method
):
    url = f"{receiver.url}/archives/gitlab-shell.tar.gz?signature=s3cr3t-signature"
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    token_secret(core_v1, namespace, "upload-url", {"url": url})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{gitlab.host},{receiver.url[7:]}"})
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object(
            "pushed",
            gitlab.url,
            "gitlab-org/gitlab-shell",
            upload={"urlSecretRef": {"name": "upload-url"}, "httpMethod": method},
        ),
    )
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "pushed",
        lambda o: condition(o).get("reason") == "UploadUnconfirmed",
        timeout=60,
        what="UploadUnconfirmed",
    )
    # Ready, but without claiming what only the receiver knows.
    assert condition(obj)["status"] == "True"
    assert "cannot be confirmed" in condition(obj)["message"]
    assert obj["status"]["artifact"]["location"] == "Upload"
    assert obj["status"]["route"] == "upload"
    (upload,) = receiver.received
    assert upload["method"] == method
    assert upload["content_type"] == "application/gzip"
    assert upload["path"].startswith("/archives/gitlab-shell.tar.gz?signature=")
    _archive_is_valid(upload["body"])
    text = str(obj["status"]) + str(events_of(core_v1, namespace, "pushed"))
    assert "s3cr3t-signature" not in text
