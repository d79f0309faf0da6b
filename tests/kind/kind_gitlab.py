"""The GitLab side of the kind tier: simulated GitLabs running as Pods (reached through the
API server's service proxy), the operator settings the tests install, migrations as objects,
waits on them, duplicate requests, and the figures for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import yaml
from kind_cluster import GROUP, TESTBED_NAMESPACE, VERSION, Cluster, manifests, wait_for
from tests.support.processes import ROOT_TOKEN, SimulatorAccess

EXPORTS, IMPORTS = "projectexports", "projectimports"
#: Simulator options: no GitLab rate limits (the operator's are off in the tests too).
NO_LIMITS = ("--project-export-limit", "0", "--project-import-limit", "0",
             "--project-download-export-limit", "0")  # fmt: skip
#: The simulated GitLabs' Services; the tests' operator.allowedHosts names exactly these.
SIMULATORS = ("source", "destination")
#: Operator settings of the tests: no rate limits, quick polls and retries (as the e2e tier's
#: operator processes have them), GitLab hosts limited to the simulators' Services.
FAST_OPERATOR: dict[str, Any] = {
    "logLevel": "INFO",
    "allowedHosts": [f"{name}.{TESTBED_NAMESPACE}.svc" for name in SIMULATORS],
    "rateLimits": {"export": 0, "import": 0, "download": 0},
    "polling": {"initial": 0.5, "max": 2},
    "retryDelay": 1,
    "exportAcceptanceGrace": 10,
    "recheckInterval": 3,
    "backoffMax": 3,
}


#: Readiness is probed every second, so a test sees the probe take a pod out of its Service
#: in seconds; liveness keeps the chart's timing.
FAST_READINESS = {"initialDelaySeconds": 0, "periodSeconds": 1, "timeoutSeconds": 1,
                  "failureThreshold": 2}  # fmt: skip


def operator_values(**extra: Any) -> dict[str, Any]:
    """The chart values of the tests, with ``extra`` on top (top-level keys replaced)."""
    return {"operator": dict(FAST_OPERATOR), "probes": {"readiness": FAST_READINESS}, **extra}


class Simulator(SimulatorAccess):
    """A simulated GitLab in the cluster (manifests/gitlab-simulator.yaml), reached by the
    operator at ``url`` and by the tests through the API server's service proxy."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster, self.name = cluster, name
        self.host = f"{name}.{TESTBED_NAMESPACE}.svc"
        self.url = f"http://{self.host}"

    def start(self, *options: str, seed: str | Mapping[str, Any] = "default") -> None:
        """(Re)start the simulator with ``options`` and a seed: a built-in one by name, or a
        seed document (mounted from a ConfigMap). State never survives a restart."""
        env = self.cluster.env
        docs = manifests(
            "gitlab-simulator.yaml",
            name=self.name,
            namespace=TESTBED_NAMESPACE,
            image=env.testbed_image,
            pull_policy=env.pull_policy,
            seed=seed if isinstance(seed, str) else "/seed/seed.yaml",
        )
        for doc in docs:
            if doc["kind"] == "ConfigMap" and not isinstance(seed, str):
                doc["data"] = {"seed.yaml": yaml.safe_dump(dict(seed))}
            if doc["kind"] == "Deployment":
                doc["spec"]["template"]["spec"]["containers"][0]["args"] += list(options)
        self.cluster.kubectl(
            "delete", "deployment", self.name, "-n", TESTBED_NAMESPACE, "--ignore-not-found",
            "--cascade=foreground", "--wait=true", timeout=120,
        )  # fmt: skip
        self.cluster.apply(docs)
        self.cluster.kubectl(
            "rollout", "status", f"deployment/{self.name}", "-n", TESTBED_NAMESPACE,
            "--timeout=120s", timeout=150,
        )  # fmt: skip
        wait_for(self._answers, timeout=60, what=f"{self.name} to answer through its Service")

    def _answers(self) -> bool:
        try:
            return self.control("GET", "/requests", params={"endpoint": "none"}) is not None
        except (httpx.HTTPError, AssertionError):
            return False

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.cluster.service_proxy(
            TESTBED_NAMESPACE, self.name, "http", method, path,
            headers={"PRIVATE-TOKEN": ROOT_TOKEN}, **kwargs,
        )  # fmt: skip
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


def token_secret(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"token": ROOT_TOKEN},
    }


def migration(
    name: str, namespace: str, source: Simulator, destination: Simulator, path: str
) -> list[dict[str, Any]]:
    """A ProjectExport on ``source`` and a ProjectImport (``exportRef``) on ``destination``."""
    group, _, project = path.rpartition("/")
    meta = {"name": name, "namespace": namespace}
    return [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ProjectExport",
            "metadata": meta,
            "spec": {
                "gitlab": {"url": source.url, "tokenSecretRef": {"name": "source-token"}},
                "project": path,
            },
        },
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ProjectImport",
            "metadata": meta,
            "spec": {
                "gitlab": {"url": destination.url, "tokenSecretRef": {"name": "destination-token"}},
                "namespacePath": group,
                "path": project,
                "source": {"exportRef": {"name": name}},
            },
        },
    ]


def start_migrations(
    cluster: Cluster, namespace: str, source: Simulator, destination: Simulator, projects: list[str]
) -> list[str]:
    """Apply a migration per project with kubectl; their names."""
    names = [path.replace("/", "-") for path in projects]
    docs = [
        doc
        for name, path in zip(names, projects, strict=True)
        for doc in migration(name, namespace, source, destination, path)
    ]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    return names


def condition(obj: Mapping[str, Any] | None, kind: str = "Ready") -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}


def not_ready(cluster: Cluster, namespace: str, names: Iterable[str]) -> list[str]:
    """One line per object of the migrations ``names`` that is not Ready: where it stands."""
    wanted = set(names)
    lines = []
    for plural in (EXPORTS, IMPORTS):
        seen = set()
        for obj in cluster.custom_objects(namespace, plural):
            name = obj["metadata"]["name"]
            if name not in wanted:
                continue
            seen.add(name)
            ready_condition = condition(obj)
            if ready_condition.get("status") != "True":
                status = obj.get("status") or {}
                plan = status.get("plan") or {}
                lines.append(
                    f"{plural}/{name}: {ready_condition.get('reason')}; GitLab "
                    f"{status.get('exportStatus') or status.get('importStatus')}; plan "
                    f"{plan.get('action')}: {plan.get('reason')}"
                )
        lines += [f"{plural}/{name}: missing" for name in sorted(wanted - seen)]
    return lines


def wait_all_ready(
    cluster: Cluster, namespace: str, names: Iterable[str], *, timeout: float, what: str
) -> None:
    names = list(names)
    try:
        wait_for(lambda: not not_ready(cluster, namespace, names), timeout=timeout, what=what)
    except AssertionError as exc:
        stuck = "\n".join(not_ready(cluster, namespace, names)[:40])
        raise AssertionError(f"{exc}\nnot ready:\n{stuck}") from None


def duplicate_posts(source: Simulator, destination: Simulator) -> tuple[Counter[str], Counter[str]]:
    """Export requests per source project and import requests per target, beyond one."""
    exports = Counter(r["path"] for r in source.received_posts("export"))
    imports = Counter(
        str(r["params"].get("namespace_path", "")) + "/" + str(r["params"].get("path"))
        for r in destination.received_posts("import")
    )
    return (
        Counter({k: v - 1 for k, v in exports.items() if v > 1}),
        Counter({k: v - 1 for k, v in imports.items() if v > 1}),
    )


def seeded_random(name: str) -> tuple[int, random.Random]:
    """A random generator whose seed is printed (and reported), so a run can be repeated with
    ``GITLAB_FERRY_KIND_RANDOM_SEED``."""
    seed = int(os.environ.get("GITLAB_FERRY_KIND_RANDOM_SEED") or time.time())
    print(f"{name}: random seed {seed} (repeat with GITLAB_FERRY_KIND_RANDOM_SEED={seed})")
    return seed, random.Random(seed)


def report(section: str, figures: Mapping[str, Any]) -> None:
    """Figures for docs/reliability.md, as tests/e2e/reliability_e2e.report writes them."""
    line = json.dumps({"section": section, **figures}, sort_keys=True)
    print(f"reliability: {line}")
    target = os.environ.get("GITLAB_FERRY_RELIABILITY_REPORT")
    if target:
        with open(target, "a") as out:
            out.write(line + "\n")
