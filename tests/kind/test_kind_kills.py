"""Crash safety of the operator as a Pod: while migrations run, its Pod is deleted (SIGTERM,
and the Deployment starts another) and its process is killed with SIGKILL from the node (the
kubelet restarts the container), sixteen times at random moments, from a logged random seed.
The simulated GitLabs' request logs prove that no export was requested twice and no import
posted twice, and every migration finishes."""

from __future__ import annotations

import functools
import signal
import statistics
import time
from typing import Any

from kind_cluster import (
    OPERATOR_NAMESPACE,
    Chart,
    Cluster,
    NodeSignals,
    container_id,
    ready,
    restarts,
    wait_for,
)
from kind_gitlab import (
    NO_LIMITS,
    Simulator,
    duplicate_posts,
    not_ready,
    report,
    seeded_random,
    start_migrations,
    wait_all_ready,
)
from tests.support.seeds import destination_seed, fleet_seed

KILLS = 16
FIRST_BATCH, BATCH = 20, 10
#: Jobs that take a few seconds, so each batch spans several kills.
JOBS = ("--export-queue-delay", "1", "--export-duration", "4", "--import-duration", "4")
#: The kubelet restarts a crashed container at once, then after 10 s, 20 s, ...: more than two
#: SIGKILLs in one Pod would mostly measure that back-off, so the third is a Pod deletion.
SIGKILLS_PER_POD = 2


def _restarted(operator: Chart, name: str, count: int, old: str) -> dict[str, Any] | None:
    """The pod ``name`` once its container was restarted (a new id) and is Ready."""
    for pod in operator.pods():
        if pod["metadata"]["name"] == name and restarts(pod) > count and ready(pod):
            return pod if container_id(pod) != old else None
    return None


def test_pod_deleted_and_process_killed_during_migrations(
    cluster: Cluster,
    operator: Chart,
    gitlabs: dict[str, Simulator],
    signals: NodeSignals,
    namespace: str,
) -> None:
    seed, rng = seeded_random("kind kills")
    source, destination = gitlabs["source"], gitlabs["destination"]
    groups, per_group = 6, 10
    source.start(*JOBS, *NO_LIMITS, seed=fleet_seed(groups, per_group))
    destination.start(*JOBS, *NO_LIMITS, seed=destination_seed(groups))
    projects = sorted(p["path_with_namespace"] for p in source.projects())
    rng.shuffle(projects)
    names = start_migrations(cluster, namespace, source, destination, projects[:FIRST_BATCH])
    used, batches = FIRST_BATCH, 1
    actions = ["sigkill", "delete"] * (KILLS // 2)
    rng.shuffle(actions)
    done = {"sigkill": 0, "delete": 0}
    back = {"sigkill": [], "delete": []}  # seconds from the kill to a Ready operator again
    [pod] = operator.settled(1)
    sigkilled_in_pod = 0
    for action in actions:
        time.sleep(rng.uniform(0.5, 4.0))
        if action == "sigkill" and sigkilled_in_pod >= SIGKILLS_PER_POD:
            action = "delete"
        killed_at = time.monotonic()
        if action == "sigkill":
            before, old_container = restarts(pod), container_id(pod)
            signals.send(pod, signal.SIGKILL)
            sigkilled_in_pod += 1

            pod = wait_for(
                functools.partial(
                    _restarted, operator, pod["metadata"]["name"], before, old_container
                ),
                timeout=90,
                what="the killed container to run again, Ready",
            )
        else:
            cluster.kubectl("delete", "pod", pod["metadata"]["name"], "-n", OPERATOR_NAMESPACE,
                            "--wait=false")  # fmt: skip
            [pod] = operator.settled(1, timeout=120)
            sigkilled_in_pod = 0
        back[action].append(time.monotonic() - killed_at)
        done[action] += 1
        if not not_ready(cluster, namespace, names) and used + BATCH <= len(projects):
            batch = projects[used : used + BATCH]
            names += start_migrations(cluster, namespace, source, destination, batch)
            used += BATCH
            batches += 1
    wait_all_ready(
        cluster, namespace, names, timeout=300, what="every migration to finish after the kills"
    )
    exports, imports = duplicate_posts(source, destination)
    figures = {
        "random_seed": seed,
        "kills": KILLS,
        "sigkills": done["sigkill"],
        "pod_deletions": done["delete"],
        "batches": batches,
        "migrations": len(names),
        "objects": 2 * len(names),
        "duplicate_exports": sum(exports.values()),
        "duplicate_imports": sum(imports.values()),
        "seconds_to_ready_after_sigkill_median": round(statistics.median(back["sigkill"]), 1),
        "seconds_to_ready_after_pod_deletion_median": round(statistics.median(back["delete"]), 1),
    }
    report("kind-kills", figures)
    assert done["sigkill"] + done["delete"] == KILLS
    assert done["sigkill"] >= KILLS // 4, done  # both kinds of kill really happened
    assert not exports, f"export requested twice (random seed {seed}): {exports}"
    assert not imports, f"import posted twice (random seed {seed}): {imports}"
    assert len(destination.projects()) == len(names)
