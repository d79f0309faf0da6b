"""Destructive plans and deletion: with ``approval: Manual`` an overwrite of an existing
project waits (AwaitingApproval) until the annotation ``gitlabferry.dev/approve-plan`` names the
plan id in status, and a changed plan needs a new approval; ``deletionPolicy: Orphan`` leaves
the project on GitLab, ``Delete`` removes it before the object goes (after approval when
Manual), and a deletion that cannot reach GitLab reports, retries, and can be released by
setting ``deletionPolicy: Orphan``.
"""

from __future__ import annotations

import time

import httpx
import pytest
from ferry_e2e import IMPORTS, condition, create, get_object, token_secret, wait_object
from import_e2e import (
    FAST_JOBS,
    Sampler,
    annotate,
    assert_imported,
    delete_import,
    deleted,
    import_body,
    import_posts,
    live_at,
    patch_spec,
    project_by_id,
    seed_project,
    source_archives,
    wait_gone,
    wait_reason,
)
from tests.support.archives import ArchiveServer
from tests.support.processes import ROOT_TOKEN, wait_for

GITLAB_TEST = "gitlab-org/gitlab-test"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return source_archives(tmp_path_factory.mktemp("source"), [GITLAB_TEST])


@pytest.fixture
def destination(simulators, tls):
    return simulators(*FAST_JOBS, "--ca-file", str(tls[0]), seed="empty")


@pytest.fixture
def archive_url(sources, core_v1, namespace, tls):
    """The archive served over https (GitLab fetches it), named by a Secret (``urlSecretRef``)."""
    server = ArchiveServer(tls)
    url = server.serve("/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    token_secret(core_v1, namespace, "archive-url", {"url": url})
    yield url
    server.close()


@pytest.fixture
def operator(namespace, core_v1, operators, destination):
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


def _awaiting(custom_objects, namespace, plan_id: str | None = None) -> dict:
    """Wait for AwaitingApproval (of a plan other than ``plan_id`` when given)."""
    return wait_object(
        custom_objects,
        IMPORTS,
        namespace,
        "imp",
        lambda o: (
            condition(o).get("reason") == "AwaitingApproval"
            and (plan_id is None or o["status"]["plan"]["id"] != plan_id)
        ),
        timeout=60,
        what="AwaitingApproval" + (f" of a plan other than {plan_id}" if plan_id else ""),
    )


def _still_waiting(custom_objects, namespace, plan_id: str, destination, seconds=5.0) -> None:
    """For ``seconds`` (longer than the operator's recheck interval) the object keeps waiting
    for ``plan_id`` and nothing is posted to GitLab."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        obj = get_object(custom_objects, IMPORTS, namespace, "imp")
        assert condition(obj)["reason"] == "AwaitingApproval", condition(obj)
        assert obj["status"]["plan"]["id"] == plan_id
        assert import_posts(destination) == []
        time.sleep(0.5)


def _check_awaiting(obj: dict) -> str:
    plan = obj["status"]["plan"]
    assert plan["action"] == "ImportProject"
    assert plan["destructive"] is True
    message = condition(obj)["message"]
    assert plan["id"] in message
    assert f"gitlabferry.dev/approve-plan={plan['id']}" in message
    assert condition(obj)["status"] == "False"
    return str(plan["id"])


# -- approval ------------------------------------------------------------------------------------


def test_manual_overwrite_waits_for_approval_of_its_plan_id(
    namespace, custom_objects, destination, archive_url, operator
):
    old = seed_project(destination, GITLAB_TEST)
    _import(custom_objects, namespace, destination, overwrite=True, approval="Manual")
    obj = _awaiting(custom_objects, namespace)
    plan_id = _check_awaiting(obj)
    assert str(old["id"]) in obj["status"]["plan"]["reason"]
    _still_waiting(custom_objects, namespace, plan_id, destination)
    annotate(custom_objects, namespace, "imp", "0123456789")  # not the plan's id
    _still_waiting(custom_objects, namespace, plan_id, destination)
    annotate(custom_objects, namespace, "imp", plan_id)
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    assert_imported(obj, destination, GITLAB_TEST)
    assert obj["status"]["replacedProjectId"] == old["id"]
    assert obj["status"]["projectId"] != old["id"]
    (post,) = import_posts(destination)
    assert post["params"]["overwrite"] in (True, "true")
    assert deleted(destination, old["id"])


def test_a_plan_awaiting_approval_is_not_shown_as_applied(
    namespace, custom_objects, destination, archive_url, operator
):
    seed_project(destination, GITLAB_TEST)
    _import(custom_objects, namespace, destination, overwrite=True, approval="Manual")
    obj = _awaiting(custom_objects, namespace)
    assert obj["status"]["plan"]["phase"] == "AwaitingApproval"


def test_auto_approval_applies_the_overwrite_at_once(
    namespace, custom_objects, destination, archive_url, operator
):
    old = seed_project(destination, GITLAB_TEST)
    _import(custom_objects, namespace, destination, overwrite=True)
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    assert_imported(obj, destination, GITLAB_TEST)
    assert obj["status"]["replacedProjectId"] == old["id"]


def _replace_the_project_at_the_path(destination, old) -> dict:
    """Someone deletes the project at the path and creates another there."""
    httpx.delete(
        f"{destination.url}/api/v4/projects/{old['id']}",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        timeout=30,
    ).raise_for_status()
    wait_for(lambda: not live_at(destination, GITLAB_TEST), timeout=30, what="the project to go")
    return seed_project(destination, GITLAB_TEST)


def test_a_different_existing_project_needs_a_new_approval(
    namespace, custom_objects, destination, archive_url, operator
):
    first = seed_project(destination, GITLAB_TEST)
    _import(custom_objects, namespace, destination, overwrite=True, approval="Manual")
    first_plan = _check_awaiting(_awaiting(custom_objects, namespace))
    second = _replace_the_project_at_the_path(destination, first)
    # The approval names the plan that would have replaced the first project: it does not
    # cover replacing the second one.
    annotate(custom_objects, namespace, "imp", first_plan)
    obj = _awaiting(custom_objects, namespace, plan_id=first_plan)
    second_plan = _check_awaiting(obj)
    assert f"(id {second['id']})" in obj["status"]["plan"]["reason"]
    _still_waiting(custom_objects, namespace, second_plan, destination)
    annotate(custom_objects, namespace, "imp", second_plan)
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    assert_imported(obj, destination, GITLAB_TEST)
    assert obj["status"]["replacedProjectId"] == second["id"]
    assert deleted(destination, second["id"])


def test_a_plan_awaiting_approval_follows_changes_on_gitlab(
    namespace, custom_objects, destination, archive_url, operator
):
    first = seed_project(destination, GITLAB_TEST)
    _import(custom_objects, namespace, destination, overwrite=True, approval="Manual")
    first_plan = _check_awaiting(_awaiting(custom_objects, namespace))
    second = _replace_the_project_at_the_path(destination, first)
    obj = wait_object(
        custom_objects,
        IMPORTS,
        namespace,
        "imp",
        lambda o: o["status"]["plan"]["id"] != first_plan,
        timeout=15,
        what="the plan to follow the project now at the path",
    )
    assert f"(id {second['id']})" in obj["status"]["plan"]["reason"]


@pytest.mark.parametrize(
    "change",
    [
        {"overrideParams": {"visibility": "private", "description": "changed"}},
        {"source": {"urlSecretRef": None, "url": "https://archives.example/other.tar.gz"}},
    ],
    ids=["overrideParams", "source"],
)
def test_a_changed_spec_needs_a_new_approval(
    namespace, custom_objects, destination, archive_url, operator, change
):
    seed_project(destination, GITLAB_TEST)
    _import(custom_objects, namespace, destination, overwrite=True, approval="Manual")
    first_plan = _check_awaiting(_awaiting(custom_objects, namespace))
    patch_spec(custom_objects, namespace, "imp", change)
    obj = wait_object(
        custom_objects,
        IMPORTS,
        namespace,
        "imp",
        lambda o: (o.get("status") or {}).get("observedGeneration") == 2,
        timeout=30,
        what="the changed spec to be planned",
    )
    # What would be sent to GitLab changed: the old approval must not cover it.
    assert obj["status"]["plan"]["id"] != first_plan
    annotate(custom_objects, namespace, "imp", first_plan)
    _still_waiting(custom_objects, namespace, obj["status"]["plan"]["id"], destination)


# -- deletion ------------------------------------------------------------------------------------


def _finished(custom_objects, namespace, destination, **spec) -> dict:
    _import(custom_objects, namespace, destination, **spec)
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    return assert_imported(obj, destination, GITLAB_TEST)


def _delete_requests(destination) -> list[dict]:
    return [r for r in destination.requests("delete_project") if r["method"] == "DELETE"]


def test_orphan_leaves_the_project_on_gitlab(
    namespace, custom_objects, destination, archive_url, operator
):
    project = _finished(custom_objects, namespace, destination, deletionPolicy="Orphan")
    delete_import(custom_objects, namespace, "imp")
    wait_gone(custom_objects, namespace, "imp", timeout=30)
    assert [p["id"] for p in live_at(destination, GITLAB_TEST)] == [project["id"]]
    assert _delete_requests(destination) == []


def test_delete_removes_the_project_before_the_object_goes(
    namespace, custom_objects, destination, archive_url, operator
):
    # GitLab keeps deleted projects pending for a while; the simulator shows that state.
    destination.control("PATCH", "/settings", json={"timing": {"deletion_delay": 300}})
    project = _finished(custom_objects, namespace, destination, deletionPolicy="Delete")

    def probe() -> tuple[bool, bool]:
        gone = get_object(custom_objects, IMPORTS, namespace, "imp") is None
        return gone, deleted(destination, project["id"])  # read after: never earlier

    sampler = Sampler(probe)
    delete_import(custom_objects, namespace, "imp")
    wait_gone(custom_objects, namespace, "imp", timeout=30)
    time.sleep(0.5)
    samples = sampler.stop()
    assert not sampler.errors, sampler.errors
    assert any(object_gone for object_gone, _ in samples)
    assert all(project_gone for object_gone, project_gone in samples if object_gone), samples
    (request,) = _delete_requests(destination)
    assert request["path"].endswith(f"/projects/{project['id']}")
    assert request["status"] == 202
    assert project_by_id(destination, project["id"])["pending_delete"] is True
    assert live_at(destination, GITLAB_TEST) == []


def test_delete_with_manual_approval_waits_for_the_deletion_plan(
    namespace, custom_objects, destination, archive_url, operator
):
    project = _finished(
        custom_objects, namespace, destination, deletionPolicy="Delete", approval="Manual"
    )
    delete_import(custom_objects, namespace, "imp")
    obj = wait_reason(custom_objects, namespace, "imp", "AwaitingApproval", timeout=30)
    plan = obj["status"]["plan"]
    assert plan["action"] == "DeleteProject"
    assert plan["destructive"] is True
    assert plan["id"] in condition(obj)["message"]
    assert obj["metadata"]["deletionTimestamp"]
    time.sleep(4)  # longer than the operator's recheck interval
    annotate(custom_objects, namespace, "imp", "0123456789")
    time.sleep(4)
    obj = get_object(custom_objects, IMPORTS, namespace, "imp")
    assert obj is not None, "deleted without approval"
    assert condition(obj)["reason"] == "AwaitingApproval"
    assert _delete_requests(destination) == []
    assert not deleted(destination, project["id"])
    annotate(custom_objects, namespace, "imp", plan["id"])
    wait_gone(custom_objects, namespace, "imp", timeout=30)
    assert len(_delete_requests(destination)) == 1
    assert deleted(destination, project["id"])


def test_delete_while_gitlab_fails_reports_and_retries_until_it_answers(
    namespace, custom_objects, destination, archive_url, operator
):
    project = _finished(custom_objects, namespace, destination, deletionPolicy="Delete")
    faults = [
        {"endpoint": endpoint, "kind": "error", "statuses": [503]}
        for endpoint in ("project", "delete_project")
    ]
    destination.control("PUT", "/faults", json={"rules": faults})
    delete_import(custom_objects, namespace, "imp")
    obj = wait_reason(custom_objects, namespace, "imp", "GitLabUnavailable", timeout=30)
    assert "503" in condition(obj)["message"]
    assert "deletionPolicy to Orphan" in obj["status"]["plan"]["reason"]
    # It keeps trying, and the object stays while the project exists.
    wait_for(
        lambda: len([r for r in destination.requests() if r["fault"]]) >= 3,
        timeout=30,
        what="three attempts to reach GitLab",
    )
    assert get_object(custom_objects, IMPORTS, namespace, "imp") is not None
    assert not deleted(destination, project["id"])
    destination.control("DELETE", "/faults")
    wait_gone(custom_objects, namespace, "imp", timeout=30)
    assert deleted(destination, project["id"])


def test_delete_with_gitlab_unreachable_is_released_by_setting_orphan(
    namespace, custom_objects, destination, archive_url, operator
):
    _finished(custom_objects, namespace, destination, deletionPolicy="Delete")
    destination.stop()
    delete_import(custom_objects, namespace, "imp")
    obj = wait_reason(custom_objects, namespace, "imp", "GitLabUnavailable", timeout=30)
    assert "ConnectError" in condition(obj)["message"]
    assert "deletionPolicy to Orphan" in obj["status"]["plan"]["reason"]
    time.sleep(5)  # several retries later it is still there, not silently released
    obj = get_object(custom_objects, IMPORTS, namespace, "imp")
    assert obj is not None
    assert condition(obj)["reason"] == "GitLabUnavailable"
    patch_spec(custom_objects, namespace, "imp", {"deletionPolicy": "Orphan"})
    wait_gone(custom_objects, namespace, "imp", timeout=30)
