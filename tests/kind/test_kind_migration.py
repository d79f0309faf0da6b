"""A migration of twenty projects in the cluster, driven only through kubectl: ProjectExports
on a simulated source GitLab and ProjectImports (``exportRef``) into a simulated destination,
both running as Pods, the operator as the chart's Deployment. Statuses are read back from the
API server, the destination's projects are compared with what the source exported, and a
Prometheus scraping the chart's metrics Service sees the twenty finished imports."""

from __future__ import annotations

import json
from collections import Counter

import yaml
from kind_cluster import Chart, Cluster, wait_for
from kind_gitlab import NO_LIMITS, Simulator, condition, migration, wait_all_ready
from kind_prometheus import JOB, ServicePrometheus

JOBS = ("--export-queue-delay", "0.5", "--export-duration", "2", "--import-duration", "2")


def test_migration_of_twenty_projects_through_kubectl(
    cluster: Cluster,
    operator: Chart,
    gitlabs: dict[str, Simulator],
    namespace: str,
    prometheus: ServicePrometheus,
) -> None:
    source, destination = gitlabs["source"], gitlabs["destination"]
    source.start(*JOBS, *NO_LIMITS)  # the default seed: twenty projects
    destination.start(*JOBS, *NO_LIMITS, seed="empty")
    projects = sorted(p["path_with_namespace"] for p in source.projects())
    assert len(projects) == 20
    pairs = {f"p{i:02d}": path for i, path in enumerate(projects)}
    documents = [
        doc
        for name, path in pairs.items()
        for doc in migration(name, namespace, source, destination, path)
    ]
    applied = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))
    assert applied.stdout.count(" created") == 40, applied.stdout

    wait_all_ready(cluster, namespace, pairs, timeout=300, what="all 20 migrations to finish")

    imports = json.loads(
        cluster.kubectl("get", "projectimports", "-n", namespace, "-o", "json").stdout
    )
    exports = json.loads(
        cluster.kubectl("get", "projectexports", "-n", namespace, "-o", "json").stdout
    )
    assert {o["metadata"]["name"] for o in imports["items"]} == set(pairs)
    for exported in exports["items"]:
        assert exported["status"]["exportStatus"] == "finished", exported["metadata"]["name"]
    for imported in imports["items"]:
        name, status = imported["metadata"]["name"], imported["status"]
        path = pairs[name]
        assert status["importStatus"] == "finished", name
        assert status["pathWithNamespace"] == path
        assert status["sourceSha256"]
        assert status["sourceSize"] > 0
        original, copy = source.project(path)["content"], destination.project(path)["content"]
        assert copy["repository_sha256"] == original["repository_sha256"], path
        assert copy["description"] == original["description"], path
        invalid = original["invalid_relations"]
        for relation, digest in original["relations_sha256"].items():
            if not invalid.get(relation):
                assert copy["relations_sha256"][relation] == digest, (path, relation)
        # Records GitLab could not import are reported, every one of them.
        failed = Counter(f["relationName"] for f in status.get("failedRelations", []))
        assert failed == Counter({k: v for k, v in invalid.items() if v}), path
        assert condition(imported)["reason"] == (
            "FinishedWithFailedRelations" if failed else "Finished"
        ), path

    # One export request per project and one import request per target: nothing twice.
    exported = Counter(r["path"] for r in source.received_posts("export"))
    assert len(exported) == 20, exported
    assert set(exported.values()) == {1}, exported
    assert sorted(r["params"]["path"] for r in destination.received_posts("import")) == sorted(
        path.rsplit("/", 1)[1] for path in projects
    )

    # Prometheus scraped the chart's metrics Service and sees what the cluster shows.
    finished = (
        f'count(gitlab_ferry_object_info{{job="{JOB}",namespace="{namespace}",'
        'kind="ProjectImport",status="finished"})'
    )
    wait_for(
        lambda: prometheus.value(finished) == 20,
        timeout=30,
        what="Prometheus to count 20 finished imports",
    )
    [target] = prometheus.targets()
    assert target["health"] == "up", target
    assert prometheus.value(f'up{{job="{JOB}"}}') == 1
