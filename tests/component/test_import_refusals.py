"""ProjectImport passes where the destination GitLab refuses the request: a remote-import
route closed by a feature flag (remembered, so the next plan carries the archive itself,
without asking GitLab again), and a user whose role on the namespace is too low (the
message states who may import on that GitLab version)."""

from __future__ import annotations

import pytest
from component_harness import (
    NAMESPACE,
    export_object,
    import_object,
    posts,
    ready_of,
    run_jobs,
)

from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS

ARCHIVE = {"url": "https://archives.example.com/project.tar.gz"}


def status(operator, name):
    return operator.kube.body(IMPORTS, NAMESPACE, name)["status"]


def ready(operator, name):
    return ready_of(operator.kube, IMPORTS, name)


async def test_a_route_closed_by_a_feature_flag_is_not_tried_again(gitlabs, operator_for):
    destination = await gitlabs("empty", features={"import_project_from_remote_file": False})
    operator = operator_for(destination, hosts=["archives.example.com"])
    operator.kube.put(IMPORTS, import_object("i", destination, "moved", ARCHIVE))
    await operator.import_pass("i")
    assert len(posts(destination, "remote_import")) == 1
    _, reason, message = ready(operator, "i")
    assert reason == "UnsupportedByGitLab"
    assert "feature flag import_project_from_remote_file" in message
    assert status(operator, "i")["attempts"] == 0  # GitLab started nothing
    await operator.import_pass("i")
    plan = status(operator, "i")["plan"]
    assert "by stream" in plan["reason"]
    assert "the operator carries the archive" in plan["reason"]
    assert len(posts(destination, "remote_import")) == 1


@pytest.mark.parametrize(
    ("version", "user", "token", "namespace", "rule"),
    [
        ("18.7.0", "bob", "glpat-bob", "gitlab-org", "Maintainer or Owner role"),
        ("15.0.0", "carol", "glpat-carol-read", "platform", "Developer or higher"),
    ],
    ids=["developer-on-18.7", "reporter-on-15.0"],
)
async def test_a_role_refusal_states_the_rule_of_that_gitlab_version(
    gitlabs, operator_for, version, user, token, namespace, rule
):
    source = await gitlabs()
    destination = await gitlabs(behaviour={"gitlab_version": version})
    operator = operator_for(source, destination)
    operator.kube.put(EXPORTS, export_object("e", source, "gitlab-org/gitlab-test"))
    await operator.export_pass("e")
    await run_jobs(source)
    await operator.export_pass("e")
    operator.kube.secrets[(NAMESPACE, user)] = {"token": token}
    body = import_object("i", destination, "moved", {"exportRef": {"name": "e"}})
    body["spec"]["gitlab"]["tokenSecretRef"] = {"name": user}
    body["spec"]["namespacePath"] = namespace
    operator.kube.put(IMPORTS, body)
    await operator.import_pass("i")
    assert len(posts(destination, "import")) == 1
    ready_status, _, message = ready(operator, "i")
    assert ready_status == "False"
    assert rule in message
