"""Killing the operator (SIGKILL) right after it sent an import request, before it could
record GitLab's answer, and starting it again leaves exactly one project at the path and the
object finished: the import is adopted, never requested twice. For an overwrite, the project
GitLab created at the temporary path ``<path>-<32 hex>`` is the one adopted.

The archive server holds GitLab's HEAD check for a moment, so GitLab answers the import
request only after the operator is dead: the kill lands inside the window being tested.
"""

from __future__ import annotations

import signal

import pytest
from ferry_e2e import IMPORTS, create, get_object, token_secret, wait_object
from import_e2e import (
    FAST_JOBS,
    assert_imported,
    deleted,
    import_body,
    import_posts,
    live_at,
    seed_project,
    source_archives,
    temporary_projects,
    wait_reason,
)
from tests.support.archives import ArchiveServer
from tests.support.processes import ROOT_TOKEN, wait_for

GITLAB_TEST = "gitlab-org/gitlab-test"
HEAD_DELAY = 0.6  # GitLab's HEAD times out after 1 s


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return source_archives(tmp_path_factory.mktemp("source"), [GITLAB_TEST])


@pytest.fixture
def archive_url(sources, core_v1, namespace, tls):
    """The archive on an https server (GitLab fetches it: remote-import), in a Secret."""
    server = ArchiveServer(tls)
    server.head_delay = HEAD_DELAY
    url = server.serve("/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    token_secret(core_v1, namespace, "archive-url", {"url": url})
    yield url
    server.close()


def _kill_right_after_the_import_request(operator, destination, custom_objects, namespace):
    wait_for(lambda: import_posts(destination), timeout=60, interval=0.02, what="the import POST")
    operator.send_signal(signal.SIGKILL)
    operator.stop()
    status = (get_object(custom_objects, IMPORTS, namespace, "imp") or {}).get("status") or {}
    # The kill came before the operator could record GitLab's answer.
    assert status["plan"]["action"] == "ImportProject"
    assert status["plan"]["phase"] == "Applying"
    assert status.get("projectId") is None


def _start(namespace, core_v1, operators, destination):
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    return operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})


def _import(custom_objects, namespace, destination, **spec) -> None:
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp",
            destination.url,
            "gitlab-test",
            {"urlSecretRef": {"name": "archive-url"}},
            namespacePath="gitlab-org",
            **spec,
        ),
    )


def test_sigkill_after_an_import_request_adopts_the_import(
    namespace, core_v1, custom_objects, simulators, operators, archive_url, tls
):
    destination = simulators(*FAST_JOBS, "--ca-file", str(tls[0]), seed="empty")
    operator = _start(namespace, core_v1, operators, destination)
    _import(custom_objects, namespace, destination)
    _kill_right_after_the_import_request(operator, destination, custom_objects, namespace)
    wait_for(lambda: live_at(destination, GITLAB_TEST), timeout=10, what="GitLab's project")
    operator.start()
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, GITLAB_TEST)
    assert len(import_posts(destination)) == 1
    assert [p["id"] for p in destination.projects()] == [project["id"]]
    assert obj["status"]["attempts"] == 1


def test_sigkill_after_an_overwrite_request_adopts_the_temporary_project(
    namespace, core_v1, custom_objects, simulators, operators, archive_url, tls
):
    # A slow import: the new project is still at its temporary path after the restart.
    destination = simulators(
        "--import-queue-delay",
        "1",
        "--import-duration",
        "8",
        "--ca-file",
        str(tls[0]),
        seed="empty",
    )
    old = seed_project(destination, GITLAB_TEST)
    operator = _start(namespace, core_v1, operators, destination)
    _import(custom_objects, namespace, destination, overwrite=True)
    _kill_right_after_the_import_request(operator, destination, custom_objects, namespace)
    (temporary,) = wait_for(
        lambda: temporary_projects(destination, GITLAB_TEST),
        timeout=10,
        what="the temporary project",
    )
    operator.start()
    obj = wait_object(
        custom_objects,
        IMPORTS,
        namespace,
        "imp",
        lambda o: (o.get("status") or {}).get("projectId") is not None,
        timeout=30,
        what="the operator to follow a project",
    )
    assert [p["id"] for p in temporary_projects(destination, GITLAB_TEST)] == [temporary["id"]]
    assert len(import_posts(destination)) == 1
    assert obj["status"]["projectId"] == temporary["id"]
    obj = wait_reason(custom_objects, namespace, "imp", "Finished", timeout=60)
    project = assert_imported(obj, destination, GITLAB_TEST)
    assert project["id"] == temporary["id"]
    assert obj["status"]["replacedProjectId"] == old["id"]
    assert len(import_posts(destination)) == 1
    assert [p["id"] for p in temporary_projects(destination, GITLAB_TEST)] == []
    assert deleted(destination, old["id"])
    assert {p["id"] for p in destination.projects()} <= {old["id"], temporary["id"]}


def test_sigkill_after_an_overwrite_request_adopts_it_once_gitlab_has_swapped_the_projects(
    namespace, core_v1, custom_objects, simulators, operators, archive_url, tls
):
    destination = simulators(*FAST_JOBS, "--ca-file", str(tls[0]), seed="empty")
    old = seed_project(destination, GITLAB_TEST)
    operator = _start(namespace, core_v1, operators, destination)
    _import(custom_objects, namespace, destination, overwrite=True)
    _kill_right_after_the_import_request(operator, destination, custom_objects, namespace)
    # While the operator is down GitLab finishes: the new project takes the path.
    (new,) = wait_for(
        lambda: [p for p in live_at(destination, GITLAB_TEST) if p["id"] != old["id"]],
        timeout=30,
        what="the new project at the path",
    )
    operator.start()
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, GITLAB_TEST)
    assert project["id"] == new["id"]
    assert obj["status"]["replacedProjectId"] == old["id"]
    assert len(import_posts(destination)) == 1
    assert temporary_projects(destination, GITLAB_TEST) == []
    assert deleted(destination, old["id"])
