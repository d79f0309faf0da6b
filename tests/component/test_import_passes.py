"""ProjectImport reconcile passes, whole, against simulated GitLabs, an in-memory Kubernetes
and a manual clock: a migration streamed from an export, the namespace parameter each
version reads and the landing check, adoption after a restart instead of a second request,
a destructive plan held for approval, a refusal that stops, relations a GitLab lacks, and
deletion under each policy."""

from __future__ import annotations

import pytest
from component_harness import (
    NAMESPACE,
    Operator,
    export_object,
    import_object,
    posts,
    run_jobs,
)

from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS

SOURCE = "gitlab-org/gitlab-test"
EXPORT_REF = {"exportRef": {"name": "e"}}


def status(operator: Operator, name: str) -> dict:
    return operator.kube.body(IMPORTS, NAMESPACE, name)["status"]


def ready(operator: Operator, name: str) -> tuple[str, str]:
    found = next(c for c in status(operator, name)["conditions"] if c["type"] == "Ready")
    return found["status"], found["reason"]


async def exported(operator: Operator, gitlab, project: str = SOURCE) -> None:
    """A finished ProjectExport ``e`` of ``project``, kept on ``gitlab``."""
    operator.kube.put(EXPORTS, export_object("e", gitlab, project))
    await operator.export_pass("e")
    await run_jobs(gitlab)
    await operator.export_pass("e")


async def imported(operator: Operator, gitlab, name: str) -> None:
    """Passes until GitLab's import job has run and the object recorded it."""
    await operator.import_pass(name)
    await run_jobs(gitlab)
    await operator.import_pass(name)


@pytest.mark.parametrize(
    ("version", "parameter"),
    [("17.11.3", "namespace"), ("18.7.0", "namespace_path")],
)
async def test_a_migration_is_streamed_and_named_as_the_version_reads(
    gitlabs, operator_for, version, parameter
):
    source = await gitlabs()
    destination = await gitlabs("empty", behaviour={"gitlab_version": version})
    operator = operator_for(source, destination)
    await exported(operator, source)
    operator.kube.put(
        IMPORTS,
        import_object("i", destination, "gitlab-test", EXPORT_REF, namespacePath="gitlab-org"),
    )
    await imported(operator, destination, "i")
    assert ready(operator, "i") == ("True", "Finished")
    recorded = status(operator, "i")
    assert (recorded["route"], recorded["gitlabVersion"]) == ("stream", version)
    assert recorded["pathWithNamespace"] == SOURCE
    assert recorded["importType"] == "gitlab_project"
    (post,) = posts(destination, "import")
    assert post.params is not None
    named = {k for k in ("namespace", "namespace_id", "namespace_path") if k in post.params}
    assert named == {parameter}
    (export,) = (await source.project_summary(SOURCE))["exports"]
    assert recorded["sourceSha256"] == export["file"]["sha256"]


async def test_a_project_landing_elsewhere_is_never_ready(gitlabs, operator_for):
    source = await gitlabs()
    # 18.7 by its version, yet ignoring namespace_path as GitLab before 18.7 does.
    destination = await gitlabs("empty", profile={"namespace_id_params": False})
    operator = operator_for(source, destination)
    await exported(operator, source)
    operator.kube.put(
        IMPORTS,
        import_object("i", destination, "gitlab-test", EXPORT_REF, namespacePath="gitlab-org"),
    )
    await operator.import_pass("i")
    assert ready(operator, "i") == ("False", "WrongNamespace")
    await run_jobs(destination)
    for _ in range(3):
        await operator.import_pass("i")
    assert ready(operator, "i") == ("False", "WrongNamespace")
    assert "root/gitlab-test" in status(operator, "i")["conditions"][0]["message"]
    assert len(posts(destination, "import")) == 1
    assert "WrongNamespace" in operator.reasons("i")


async def test_a_restart_adopts_the_import_it_requested(gitlabs, operator_for):
    source = await gitlabs()
    destination = await gitlabs("empty")
    first = operator_for(source, destination)
    await exported(first, source)
    first.kube.put(
        IMPORTS,
        import_object("i", destination, "gitlab-test", EXPORT_REF, namespacePath="gitlab-org"),
    )
    await first.import_pass("i")
    # The process died after GitLab accepted the request and before the answer was
    # recorded: the status still says Applying.
    applying = next(w for ref, w in first.kube.writes if ref.plural == IMPORTS)
    first.kube.body(IMPORTS, NAMESPACE, "i")["status"] = applying
    second = operator_for(source, destination, kube=first.kube)
    await imported(second, destination, "i")
    assert ready(second, "i") == ("True", "Finished")
    assert "AdoptImport" in second.reasons("i")
    assert len(posts(destination, "import")) == 1


async def test_an_overwrite_waits_for_approval_of_its_plan(gitlabs, operator_for):
    source = await gitlabs()
    destination = await gitlabs("empty")
    old = destination.create_project({"path_with_namespace": SOURCE, "owner": "root"})
    operator = operator_for(source, destination)
    await exported(operator, source)
    spec = {"namespacePath": "gitlab-org", "overwrite": True, "approval": "Manual"}
    operator.kube.put(IMPORTS, import_object("i", destination, "gitlab-test", EXPORT_REF, **spec))
    await operator.import_pass("i")
    assert ready(operator, "i") == ("False", "AwaitingApproval")
    plan = status(operator, "i")["plan"]
    assert (
        f"gitlab-org/gitlab-test (id {old.id})" in status(operator, "i")["conditions"][0]["message"]
    )
    assert posts(destination, "import") == []
    operator.kube.annotate(IMPORTS, NAMESPACE, "i", "gitlabferry.dev/approve-plan", plan["id"])
    await imported(operator, destination, "i")
    assert ready(operator, "i") == ("True", "Finished")
    assert status(operator, "i")["replacedProjectId"] == old.id
    assert len(posts(destination, "import")) == 1


async def test_an_archive_over_the_import_size_is_not_sent_again(gitlabs, operator_for, clock):
    source = await gitlabs()
    source.create_project(
        {"path_with_namespace": "gitlab-org/big", "owner": "root", "repository_size": "2MiB"}
    )
    destination = await gitlabs("empty", instance={"max_import_size": 1})
    operator = operator_for(source, destination)
    await exported(operator, source, "gitlab-org/big")
    operator.kube.put(
        IMPORTS, import_object("i", destination, "big", EXPORT_REF, namespacePath="gitlab-org")
    )
    await operator.import_pass("i")
    assert ready(operator, "i") == ("False", "ImportTooLarge")
    for _ in range(3):
        assert await operator.import_pass("i") is None
    assert [r.status for r in posts(destination, "import")] == [413]
    assert len(source.requests("download")) == 1
    destination.update_settings({"instance": {"max_import_size": 0}})
    operator.kube.annotate(IMPORTS, NAMESPACE, "i", "gitlabferry.dev/retry", "now")
    # The source allows one download a minute: the retry waits for the next window.
    wait = await operator.import_pass("i")
    assert ready(operator, "i") == ("False", "Throttled")
    assert wait is not None
    clock.advance(wait)
    await operator.import_pass("i")
    assert [r.status for r in posts(destination, "import")] == [413, 201]


async def test_relations_need_a_gitlab_with_import_relation(gitlabs, operator_for):
    source = await gitlabs()
    destination = await gitlabs("empty", behaviour={"gitlab_version": "16.10.6"})
    destination.create_project({"path_with_namespace": SOURCE, "owner": "root"})
    operator = operator_for(source, destination)
    await exported(operator, source)
    spec = {"namespacePath": "gitlab-org", "relations": ["issues"]}
    operator.kube.put(IMPORTS, import_object("i", destination, "gitlab-test", EXPORT_REF, **spec))
    await operator.import_pass("i")
    assert ready(operator, "i") == ("False", "UnsupportedByGitLab")
    assert posts(destination, "relation_import") == []


@pytest.mark.parametrize(("policy", "kept"), [("Orphan", True), ("Delete", False)])
async def test_deletion_follows_the_policy(gitlabs, operator_for, policy, kept):
    source = await gitlabs()
    destination = await gitlabs("empty")
    operator = operator_for(source, destination)
    await exported(operator, source)
    spec = {"namespacePath": "gitlab-org", "deletionPolicy": policy}
    operator.kube.put(IMPORTS, import_object("i", destination, "gitlab-test", EXPORT_REF, **spec))
    await imported(operator, destination, "i")
    project_id = status(operator, "i")["projectId"]
    assert await operator.delete("i") is None
    gone = destination.project(project_id)
    assert (gone is not None and not gone.pending_delete) is kept
