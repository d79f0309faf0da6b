"""Two replicas with kopf peering, as the chart installs them (peering.enabled, replicaCount
2): one works, the other stands by and makes no GitLab request; the active one is killed (its
process with SIGKILL, or its Pod deleted) while migrations run, and the standby takes over.
The takeover time is measured from the kill to the standby's first GitLab request, read from
its own metrics; no export or import is requested twice and every migration finishes."""

from __future__ import annotations

import datetime
import functools
import signal
import statistics
import time
from typing import Any

from kind_cluster import MANIFESTS, OPERATOR_NAMESPACE, Chart, Cluster, NodeSignals, wait_for
from kind_gitlab import (
    NO_LIMITS,
    Simulator,
    duplicate_posts,
    operator_values,
    report,
    seeded_random,
    start_migrations,
    wait_all_ready,
)
from tests.support.seeds import destination_seed, fleet_seed

TAKEOVERS = 4
BATCH = 5
JOBS = ("--export-queue-delay", "1", "--export-duration", "4", "--import-duration", "4")
PEERING = "gitlab-ferry"  # the chart's peering.name


def _live_peers(cluster: Cluster) -> dict[str, int]:
    """kopf's keep-alives in the chart's ClusterKopfPeering: live identity -> priority."""
    found = cluster.get(f"/apis/kopf.dev/v1/clusterkopfpeerings/{PEERING}") or {}
    now = datetime.datetime.now(datetime.UTC)
    live = {}
    for identity, peer in (found.get("status") or {}).items():
        seen = datetime.datetime.fromisoformat(peer["lastseen"])
        if seen + datetime.timedelta(seconds=int(peer["lifetime"])) > now:
            live[identity] = int(peer["priority"])
    return live


def _gitlab_requests(cluster: Cluster, pod: str) -> float:
    """The GitLab requests one operator Pod made, from its own /metrics."""
    text = cluster.text(f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/pods/{pod}:8080/proxy/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gitlab_ferry_gitlab_requests_total{")
    )


def _worked_since(cluster: Cluster, pod: str, requests: float) -> bool:
    return _gitlab_requests(cluster, pod) > requests


def test_standby_takes_over_when_the_active_replica_is_killed(
    cluster: Cluster,
    chart: Chart,
    gitlabs: dict[str, Simulator],
    signals: NodeSignals,
    namespace: str,
) -> None:
    seed, rng = seeded_random("kind peering")
    cluster.kubectl("apply", "-f", str(MANIFESTS / "kopf-peering-crds.yaml"))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    "crd/clusterkopfpeerings.kopf.dev", "crd/kopfpeerings.kopf.dev")  # fmt: skip
    chart.install(operator_values(peering={"enabled": True}, replicaCount=2), replicas=2)
    source, destination = gitlabs["source"], gitlabs["destination"]
    groups = 4
    source.start(*JOBS, *NO_LIMITS, seed=fleet_seed(groups, TAKEOVERS * BATCH // groups + 1))
    destination.start(*JOBS, *NO_LIMITS, seed=destination_seed(groups))
    projects = sorted(p["path_with_namespace"] for p in source.projects())
    rng.shuffle(projects)
    names: list[str] = []
    takeovers: dict[str, list[float]] = {"sigkill": [], "delete": []}
    for round_ in range(TAKEOVERS):
        pods = {p["metadata"]["name"]: p for p in chart.settled(2)}
        # Each replica is in the peering object under its pod's name, the first one started
        # with the higher priority.
        peers = wait_for(
            lambda pods=pods: (found := _live_peers(cluster)).keys() == pods.keys() and found,
            timeout=60,
            what=f"both replicas {sorted(pods)} in the peering object",
        )
        active = max(peers, key=peers.__getitem__)
        [standby] = set(pods) - {active}
        names += start_migrations(cluster, namespace, source, destination,
                        projects[round_ * BATCH : (round_ + 1) * BATCH])  # fmt: skip
        # The standby stands by while the active one works.
        standby_before, active_before = (_gitlab_requests(cluster, p) for p in (standby, active))
        wait_for(
            functools.partial(_worked_since, cluster, active, active_before),
            timeout=60,
            what=f"the active replica {active} to work on the new migrations",
        )
        time.sleep(rng.uniform(1.0, 3.0))
        assert _gitlab_requests(cluster, standby) == standby_before, "the standby worked"

        how = "sigkill" if round_ % 2 == 0 else "delete"
        killed_at = time.monotonic()
        if how == "sigkill":
            signals.send(pods[active], signal.SIGKILL)
        else:
            cluster.kubectl("delete", "pod", active, "-n", OPERATOR_NAMESPACE, "--wait=false")
        wait_for(
            functools.partial(_worked_since, cluster, standby, standby_before),
            timeout=120,
            interval=0.1,
            what=f"the standby {standby} to take over from {active} ({how})",
        )
        takeovers[how].append(round(time.monotonic() - killed_at, 2))
        # Now the former standby is the highest priority alive.
        peers = wait_for(lambda: _live_peers(cluster), timeout=30, what="live peers")
        assert max(peers, key=peers.__getitem__) == standby, peers

    wait_all_ready(cluster, namespace, names, timeout=300, what="every migration to finish")
    exports, imports = duplicate_posts(source, destination)
    every = takeovers["sigkill"] + takeovers["delete"]
    figures: dict[str, Any] = {
        "random_seed": seed,
        "replicas": 2,
        "kills": TAKEOVERS,
        "takeovers": len(every),
        "takeover_seconds_after_sigkill": takeovers["sigkill"],
        "takeover_seconds_after_pod_deletion": takeovers["delete"],
        "takeover_seconds_median": round(statistics.median(every), 2),
        "takeover_seconds_min": min(every),
        "takeover_seconds_max": max(every),
        "migrations": len(names),
        "objects": 2 * len(names),
        "duplicate_exports": sum(exports.values()),
        "duplicate_imports": sum(imports.values()),
    }
    report("kind-peering", figures)
    assert not exports, f"export requested twice (random seed {seed}): {exports}"
    assert not imports, f"import posted twice (random seed {seed}): {imports}"
    assert len(destination.projects()) == len(names)
