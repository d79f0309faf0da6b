"""``kubectl apply -f examples/group-migration.yaml`` in the cluster: the operator, installed
by its chart with the chart's RBAC, migrates the group tree ``platform/`` between two simulated
GitLabs running as Pods: the groups through GitLab's group export and import, then a
ProjectExport/ProjectImport pair it creates and owns for each of the 35 projects.
``kubectl get groupmigrations`` shows the progress to the end."""

from __future__ import annotations

import json

import yaml
from kind_cluster import Chart, Cluster, wait_for
from kind_gitlab import NO_LIMITS, Simulator, condition

from gitlab_ferry_testbed.demo.migration import find_example, manifest

JOBS = ("--export-queue-delay", "0.5", "--export-duration", "2", "--import-duration", "2")


def test_the_group_migration_example_through_kubectl(
    cluster: Cluster, operator: Chart, gitlabs: dict[str, Simulator], namespace: str
) -> None:
    source, destination = gitlabs["source"], gitlabs["destination"]
    source.start(*JOBS, *NO_LIMITS, seed="group-tree")
    destination.start(*JOBS, *NO_LIMITS, seed="empty")
    destination.api("POST", "groups", json={"name": "Migrated", "path": "migrated"})
    listed = source.api(
        "GET",
        "groups/platform/projects",
        params={"include_subgroups": "true", "archived": "false", "per_page": "100"},
    )
    projects = sorted(p["path_with_namespace"] for p in listed)
    assert len(projects) == 35
    document = manifest(find_example(), source.url, destination.url)
    document["metadata"]["namespace"] = namespace
    applied = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(document))
    assert "groupmigration.gitlabferry.dev/platform created" in applied.stdout

    progress: list[str] = []

    def finished() -> bool:
        shown = cluster.kubectl(
            "get", "groupmigrations", "platform", "-n", namespace, "--no-headers"
        ).stdout.split()
        if len(shown) > 1 and (not progress or progress[-1] != shown[1]):
            progress.append(shown[1])
        migration = json.loads(
            cluster.kubectl(
                "get", "groupmigration", "platform", "-n", namespace, "-o", "json"
            ).stdout
        )
        return condition(migration).get("status") == "True"

    wait_for(finished, timeout=420, what=f"the group migration to finish (seen {progress})")
    assert progress[-1] == "35/35", progress
    assert len(progress) > 2, f"kubectl get showed no progress on the way: {progress}"

    status = json.loads(
        cluster.kubectl("get", "groupmigration", "platform", "-n", namespace, "-o", "json").stdout
    )["status"]
    assert status["counts"]["finished"] == 35
    assert status["groups"] == status["groupsReady"] == 6
    groups = {g["full_path"] for g in destination.control("GET", "/groups")}
    assert {"migrated/platform", "migrated/platform/backend/frontend"} <= groups
    assert len(destination.received_posts("group_import")) == 1
    imports = json.loads(
        cluster.kubectl("get", "projectimports", "-n", namespace, "-o", "json").stdout
    )["items"]
    assert sorted(i["status"]["pathWithNamespace"] for i in imports) == [
        f"migrated/{p}" for p in projects
    ]
    for path in projects:
        original = source.project(path)["content"]["repository_sha256"]
        assert destination.project(f"migrated/{path}")["content"]["repository_sha256"] == original
