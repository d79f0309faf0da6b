"""GroupMigration reconcile passes, whole, with its children's passes, against two simulated
GitLabs, an in-memory Kubernetes and a manual clock: groups before projects (created, or
through GitLab's group export and import), children within ``maxInFlight``, a restart during
the fan-out, a project added later, a failing project, missing groups, adoption, and
``gitlab-ferry plan``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from component_harness import NAMESPACE, posts, run_jobs

from gitlab_ferry.api.group_migration import PLURAL as MIGRATIONS
from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS
from gitlab_ferry.controller.preview import preview, render
from gitlab_ferry.reconcile.migrations import MIGRATION_LABEL

USERS = """
users:
  - {username: root, name: Administrator, token: glpat-root-token, admin: true,
     scopes: [api, sudo]}
"""
#: platform/ with platform/backend, platform/backend/frontend and platform/infra, and five
#: small projects over them (one with a dotted path).
SOURCE = (
    USERS
    + """
trees:
  - {path: platform, owner: root, subgroups: 3, depth: 2, projects: 5, dotted_every: 4}
"""
)
DESTINATION = USERS + "groups:\n  - {path: landing, name: Landing}\n"


def seed(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return str(path)


async def pair(gitlabs: Any, tmp_path: Path, destination: str = DESTINATION) -> tuple[Any, Any]:
    source = await gitlabs(seed(tmp_path, "source", SOURCE))
    target = await gitlabs(seed(tmp_path, "destination", destination))
    return source, target


def migration(from_: Any, to: Any, **spec: Any) -> dict[str, Any]:
    """A GroupMigration of ``platform`` from one simulated GitLab into ``landing`` on the
    other; ``spec`` overrides (``source``/``destination`` merge into theirs)."""
    body: dict[str, Any] = {
        "source": {
            "gitlab": {"url": from_.url, "tokenSecretRef": {"name": "gitlab-token"}},
            "group": "platform",
        },
        "destination": {
            "gitlab": {"url": to.url, "tokenSecretRef": {"name": "gitlab-token"}},
            "parent": "landing",
        },
    }
    for key, value in spec.items():
        body[key] = {**body[key], **value} if key in ("source", "destination") else value
    return {
        "apiVersion": "gitlabferry.dev/v1alpha1",
        "kind": "GroupMigration",
        "metadata": {"name": "mig", "namespace": NAMESPACE},
        "spec": body,
    }


def status(operator: Any) -> dict[str, Any]:
    return dict(operator.kube.body(MIGRATIONS, NAMESPACE, "mig").get("status") or {})


def ready(operator: Any) -> tuple[str, str]:
    found = next(c for c in status(operator)["conditions"] if c["type"] == "Ready")
    return found["status"], found["reason"]


def source_projects(source: Any) -> list[str]:
    return sorted(source.state.full_path(p) for p in source.state.projects.values())


def group_paths(sim: Any) -> set[str]:
    return {ns.full_path for ns in sim.state.namespaces.values() if ns.kind == "group"}


async def migrate(operator: Any, sims: tuple[Any, ...], clock: Any, rounds: int = 60) -> None:
    """Passes of the migration and its children, GitLab's jobs and the clock moving on, until
    the migration is settled (Ready, or stalled on its projects)."""
    for _ in range(rounds):
        wait = await operator.migration_pass("mig")
        await operator.children_pass()
        for sim in sims:
            await run_jobs(sim)
        if status(operator).get("conditions") and ready(operator)[1] in (
            "Finished",
            "ProjectsFailed",
        ):
            return
        clock.advance(min(wait or 60.0, 60.0))
    raise AssertionError(f"not settled: {status(operator)}")


async def test_a_tree_migrates_with_the_groups_it_creates(gitlabs, operator_for, tmp_path, clock):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target))
    await migrate(operator, (source, target), clock)
    assert ready(operator) == ("True", "Finished")
    projects = source_projects(source)
    assert len(projects) == 5
    assert any("." in path.rsplit("/", 1)[1] for path in projects)
    for path in projects:
        assert target.project(f"landing/{path}") is not None, path
    made = {"landing/platform", *(f"landing/{g}" for g in group_paths(source) if "/" in g)}
    assert made <= group_paths(target)
    recorded = status(operator)
    assert recorded["progress"] == "5/5"
    assert recorded["counts"] == {
        "total": 5,
        "pending": 0,
        "exporting": 0,
        "importing": 0,
        "finished": 5,
        "failed": 0,
    }
    assert recorded["groups"] == recorded["groupsReady"] == recorded["groupsCreated"] == 4
    assert recorded["finishedAt"]
    # Every project was exported and imported once, and each group created once.
    assert len(posts(source, "export")) == 5
    assert len(posts(target, "import")) == 5
    assert len(posts(target, "create_group")) == 4
    children = operator.kube.objects
    owned = [
        body
        for (plural, _, _), body in children.items()
        if plural in (EXPORTS, IMPORTS)
        and body["metadata"]["labels"] == {MIGRATION_LABEL: "mig"}
        and body["metadata"]["ownerReferences"][0]["uid"] == "uid-groupmigrations-mig"
    ]
    assert len(owned) == 10
    assert {"CreateGroups", "CreateChildren", "Finished"} <= set(operator.reasons("mig"))


async def test_group_import_moves_the_tree_before_any_project(
    gitlabs, operator_for, tmp_path, clock
):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target, groups="GroupImport"))
    await operator.migration_pass("mig")
    assert len(posts(source, "group_export")) == 1
    assert status(operator)["groupExportAt"]
    assert operator.children(EXPORTS) == [], "no project before its group"
    await migrate(operator, (source, target), clock)
    assert ready(operator) == ("True", "Finished")
    assert len(posts(source, "group_export")) == 1
    assert len(posts(target, "group_import")) == 1
    assert posts(target, "create_group") == [], "GitLab's group import made every group"
    recorded = status(operator)
    assert recorded["groupsCreated"] == 0
    assert recorded["groups"] == recorded["groupsReady"] == 4
    for path in source_projects(source):
        assert target.project(f"landing/{path}") is not None, path


async def test_at_most_max_in_flight_projects_migrate_at_once(
    gitlabs, operator_for, tmp_path, clock
):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target, maxInFlight=2))
    await operator.migration_pass("mig")  # the groups
    await operator.migration_pass("mig")  # the first children
    assert len(operator.children(EXPORTS)) == len(operator.children(IMPORTS)) == 2
    await operator.migration_pass("mig")
    assert len(operator.children(EXPORTS)) == 2, "none finished, so no more"
    await migrate(operator, (source, target), clock)
    assert len(operator.children(IMPORTS)) == 5


async def test_a_restart_during_the_fan_out_duplicates_nothing(
    gitlabs, operator_for, tmp_path, clock
):
    source, target = await pair(gitlabs, tmp_path)
    first = operator_for(source, target)
    first.kube.put(MIGRATIONS, migration(source, target))
    await first.migration_pass("mig")
    await first.migration_pass("mig")
    # The pass was cut short after one ProjectExport of the next pair was created.
    name = first.children(IMPORTS)[-1]
    del first.kube.objects[(IMPORTS, NAMESPACE, name)]
    second = operator_for(source, target, kube=first.kube)
    await second.migration_pass("mig")
    assert first.children(IMPORTS) == first.children(EXPORTS)
    assert len(first.children(EXPORTS)) == 5
    await migrate(second, (source, target), clock)
    assert len(posts(source, "export")) == 5
    assert len(posts(target, "import")) == 5
    assert len(posts(target, "create_group")) == 4


async def test_a_project_added_later_is_migrated_at_the_next_listing(
    gitlabs, operator_for, tmp_path, clock
):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target, resyncInterval="5m"))
    await migrate(operator, (source, target), clock)
    source.create_project({"path_with_namespace": "platform/late", "owner": "root"})
    await operator.migration_pass("mig")
    assert status(operator)["progress"] == "5/5", "the listing is kept until the resync"
    clock.advance(301)
    await migrate(operator, (source, target), clock)
    assert status(operator)["progress"] == "6/6"
    assert target.project("landing/platform/late") is not None


async def test_one_failing_project_does_not_stop_the_others(gitlabs, operator_for, tmp_path, clock):
    source = await gitlabs(seed(tmp_path, "source", SOURCE))
    taken = source_projects(source)[0]
    squatter = f"  - {{path_with_namespace: landing/{taken}, owner: root}}\n"
    groups = "".join(
        f"  - {{path: landing/{'/'.join(taken.split('/')[:n])}}}\n"
        for n in range(1, taken.count("/") + 1)
    )
    target = await gitlabs(
        seed(tmp_path, "destination", DESTINATION + groups + "projects:\n" + squatter)
    )
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target))
    await migrate(operator, (source, target), clock)
    assert ready(operator) == ("False", "ProjectsFailed")
    recorded = status(operator)
    assert recorded["counts"]["finished"] == 4
    assert recorded["counts"]["failed"] == 1
    (failure,) = recorded["failures"]
    assert failure["project"] == taken
    assert failure["reason"] == "PathTaken"
    stalled = next(c for c in recorded["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True"


async def test_missing_groups_are_named_and_never_created_with_must_exist(
    gitlabs, operator_for, tmp_path
):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target, groups="MustExist"))
    await operator.migration_pass("mig")
    assert ready(operator) == ("False", "GroupsMissing")
    message = next(c for c in status(operator)["conditions"] if c["type"] == "Ready")["message"]
    assert "landing/platform" in message
    assert posts(target, "create_group") == []
    assert operator.children(EXPORTS) == []


async def test_a_source_group_the_token_cannot_see_stalls(gitlabs, operator_for, tmp_path):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target, source={"group": "nowhere"}))
    await operator.migration_pass("mig")
    assert ready(operator) == ("False", "GroupNotFound")
    assert operator.children(EXPORTS) == []


async def test_children_left_by_an_earlier_migration_of_the_name_are_adopted(
    gitlabs, operator_for, tmp_path
):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    operator.kube.put(MIGRATIONS, migration(source, target, maxInFlight=1))
    await operator.migration_pass("mig")
    await operator.migration_pass("mig")
    (name,) = operator.children(EXPORTS)
    # The migration was deleted with --cascade=orphan and made again: a new uid.
    body = operator.kube.body(MIGRATIONS, NAMESPACE, "mig")
    body["metadata"]["uid"] = "uid-mig-2"
    again = operator_for(source, target, kube=operator.kube)
    await again.migration_pass("mig")
    for plural in (EXPORTS, IMPORTS):
        (owner,) = operator.kube.body(plural, NAMESPACE, name)["metadata"]["ownerReferences"]
        assert owner["uid"] == "uid-mig-2"
    assert operator.children(EXPORTS) == [name], "adopted, not created again"


async def test_plan_lists_groups_and_projects_before_anything_is_applied(
    gitlabs, operator_for, tmp_path
):
    source, target = await pair(gitlabs, tmp_path)
    operator = operator_for(source, target)
    shown = await preview(operator.runtime, migration(source, target, groups="GroupImport"))
    text = render(shown)
    assert "(not in the cluster yet)" in text
    assert "RequestGroupExport" in text
    assert "+ landing/platform" in text
    for path in source_projects(source):
        assert f"{path} -> landing/{path}" in text
    assert text.count("(route stream:") == 5
    assert posts(source, "group_export") == []
    assert operator.kube.objects == {}
