"""What the kind tier's tests share: the cluster (kubectl, and the API server through one
``kubectl proxy``), the chart installed with helm, simulated GitLabs running as Pods, signals
for the operator's process from its node, waits, and the figures for docs/reliability.md.

Everything goes through the Kubernetes API: objects are applied with kubectl, read through the
API server, the simulators' control API (``/-/sim/``) is reached through the API server's
service proxy, and processes are signalled from a Pod in the node's PID namespace. So the tier
runs against any cluster that can run the images, not only the one ``make kind`` creates.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "gitlab-ferry"
MANIFESTS = Path(__file__).resolve().parent / "manifests"
GROUP, VERSION = "gitlabferry.dev", "v1alpha1"
EXPORTS, IMPORTS = "projectexports", "projectimports"
#: The chart's release, in its own namespace, as ``make kind`` installs it.
RELEASE = OPERATOR_NAMESPACE = "gitlab-ferry"
#: Where the simulated GitLabs and the signalling Pod run.
TESTBED_NAMESPACE = "testbed"
ROOT_TOKEN = "glpat-root-token"
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


def wait_for(
    check: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@dataclass(frozen=True)
class KindEnv:
    """The cluster and images under test, from ``GITLAB_FERRY_KIND_*`` variables."""

    kubeconfig: Path
    kubectl: str
    helm: str
    operator_image: str
    testbed_image: str
    pull_policy: str
    values: Path  # the chart's values in this cluster (tools/kind/values.yaml for kind)

    VARIABLES = ("KUBECONFIG", "OPERATOR_IMAGE", "TESTBED_IMAGE")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KindEnv:
        def get(name: str, default: str | None = None) -> str:
            value = environ.get(f"GITLAB_FERRY_KIND_{name}", default)
            if not value:
                raise KeyError(f"GITLAB_FERRY_KIND_{name}")
            return value

        return cls(
            kubeconfig=Path(get("KUBECONFIG")),
            kubectl=get("KUBECTL", "kubectl"),
            helm=get("HELM", "helm"),
            operator_image=get("OPERATOR_IMAGE"),
            testbed_image=get("TESTBED_IMAGE"),
            pull_policy=get("PULL_POLICY", "IfNotPresent"),
            values=Path(get("VALUES", str(REPO / "tools" / "kind" / "values.yaml"))),
        )


class Cluster:
    """kubectl against the cluster under test, and its API server through ``kubectl proxy``."""

    def __init__(self, env: KindEnv, log_dir: Path) -> None:
        self.env = env
        self._proxy_log = log_dir / "kubectl-proxy.log"
        self._proxy: subprocess.Popen[bytes] | None = None
        self.api: httpx.Client | None = None

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.env.kubectl, f"--kubeconfig={self.env.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def apply(self, documents: Iterable[Mapping[str, Any]]) -> None:
        body = "\n---\n".join(json.dumps(doc) for doc in documents)
        self.kubectl("apply", "-f", "-", input=body)

    def start(self) -> None:
        """Start ``kubectl proxy`` on a free loopback port: plain HTTP to the API server, with
        whatever authentication the kubeconfig uses."""
        with open(self._proxy_log, "wb") as log:
            self._proxy = subprocess.Popen(
                [
                    self.env.kubectl,
                    f"--kubeconfig={self.env.kubeconfig}",
                    "proxy",
                    "--port=0",
                    "--address=127.0.0.1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def port() -> str:
            if self._proxy is not None and self._proxy.poll() is not None:
                raise AssertionError(f"kubectl proxy exited: {self._proxy_log.read_text()}")
            served = re.search(r"serve on 127\.0\.0\.1:(\d+)", self._proxy_log.read_text())
            return served.group(1) if served else ""

        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{wait_for(port, timeout=30, what='kubectl proxy')}",
            timeout=30,
        )

    def stop(self) -> None:
        if self.api is not None:
            self.api.close()
        if self._proxy is not None:
            self._proxy.terminate()
            self._proxy.wait(10)

    @property
    def proxy_url(self) -> str:
        assert self.api is not None
        return str(self.api.base_url)

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path (``/api/v1/...``); the decoded body, None for 404."""
        assert self.api is not None
        response = self.api.get(path, params=params or None)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def text(self, path: str) -> str:
        """GET an API path whose answer is text (e.g. a Pod's metrics through its proxy)."""
        assert self.api is not None
        response = self.api.get(path)
        response.raise_for_status()
        return response.text

    def custom_objects(self, namespace: str, plural: str) -> list[dict[str, Any]]:
        found = self.get(f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}")
        return list((found or {}).get("items", []))

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        found = self.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
        return list((found or {}).get("items", []))

    def service_proxy(
        self, namespace: str, service: str, port: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """A request to a Service through the API server (``services/NAME:PORT/proxy``)."""
        assert self.api is not None
        url = f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}"
        return self.api.request(method, url, **kwargs)


def ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    alive = not pod["metadata"].get("deletionTimestamp")
    return alive and any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def container_id(pod: Mapping[str, Any]) -> str:
    """The id of the pod's (first) container as the runtime knows it, or ""."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    raw = statuses[0].get("containerID", "") if statuses else ""
    return str(raw).split("://", 1)[-1]


def restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return int(statuses[0].get("restartCount", 0)) if statuses else 0


class Chart:
    """The operator's chart, installed with ``helm upgrade --install`` as ``make kind`` does,
    plus the values of a test."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def tag(self) -> str:
        return self.cluster.env.operator_image.rsplit(":", 1)[1]

    def helm(self, *args: str, values: Mapping[str, Any] | None = None) -> str:
        """Run helm with the cluster's values and then ``values``; its output."""
        env = self.cluster.env
        cluster_values = ["--values", str(env.values), "--values", "-"]
        result = subprocess.run(
            [env.helm, *args, "--namespace", OPERATOR_NAMESPACE, *cluster_values],
            input=json.dumps(dict(values or {})),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, f"helm {args[0]} failed:\n{result.stderr}"
        return result.stdout

    def install(self, values: Mapping[str, Any] | None = None, *, replicas: int = 1) -> None:
        """Install or upgrade the release with ``values`` over the cluster's own values, and
        wait until exactly ``replicas`` operator Pods run the new template and are Ready
        (none of the old ones still terminating)."""
        env = self.cluster.env
        if self._peering() and not (values or {}).get("peering", {}).get("enabled"):
            # Turning peering off takes the replicas' right to leave the peering object away
            # before they stop, and kopf then retries that for about a minute before exiting:
            # stop them first, while they may still say goodbye.
            self.cluster.kubectl(
                "scale", "deployment", RELEASE, "-n", OPERATOR_NAMESPACE, "--replicas=0"
            )
            self.settled(0)
        image = {
            "repository": env.operator_image.rsplit(":", 1)[0],
            "tag": self.tag,
            "pullPolicy": env.pull_policy,
        }
        self.helm(
            "upgrade", "--install", RELEASE, str(CHART), f"--kubeconfig={env.kubeconfig}",
            "--create-namespace", "--reset-values", "--wait", "--timeout=180s",
            values={**(values or {}), "image": image},
        )  # fmt: skip
        self.settled(replicas)

    def _peering(self) -> bool:
        """Whether the installed release runs with kopf peering."""
        path = f"/apis/apps/v1/namespaces/{OPERATOR_NAMESPACE}/deployments/{RELEASE}"
        deployment = self.cluster.get(path)
        if deployment is None:
            return False
        args = deployment["spec"]["template"]["spec"]["containers"][0].get("args") or []
        return any(arg.startswith("--peering") for arg in args)

    def render(self, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The chart's objects for ``values`` (``helm template``, same values as install)."""
        out = self.helm("template", RELEASE, str(CHART), "--kube-version=1.33.0", values=values)
        return [doc for doc in yaml.safe_load_all(out) if doc]

    def pods(self) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=gitlab-ferry"
        return self.cluster.pods(OPERATOR_NAMESPACE, selector)

    def settled(self, replicas: int, timeout: float = 180) -> list[dict[str, Any]]:
        """Wait until exactly ``replicas`` operator Pods exist and all are Ready."""

        def check() -> tuple[list[dict[str, Any]]] | None:
            pods = self.pods()
            if len(pods) == replicas and all(ready(p) for p in pods):
                return (pods,)
            return None

        found: tuple[list[dict[str, Any]]] = wait_for(
            check, timeout=timeout, what=f"{replicas} Ready operator pod(s) and no others"
        )
        return found[0]

    def logs(self, pod: str, *, previous: bool = False) -> str:
        args = ["logs", "-n", OPERATOR_NAMESPACE, pod, "--tail=400"]
        result = self.cluster.kubectl(*args, *(["--previous"] if previous else []), check=False)
        return result.stdout


def _manifests(manifest: str, **fields: str) -> list[dict[str, Any]]:
    text = Template((MANIFESTS / manifest).read_text()).substitute(fields)
    return [doc for doc in yaml.safe_load_all(text) if doc]


class Simulator:
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
        docs = _manifests(
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

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.cluster.service_proxy(
            TESTBED_NAMESPACE, self.name, "http", method, f"/-/sim{path}",
            headers={"PRIVATE-TOKEN": ROOT_TOKEN}, **kwargs,
        )  # fmt: skip
        if response.status_code >= 400:
            raise AssertionError(f"{method} /-/sim{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control(
            "GET", "/requests", params={"endpoint": endpoint} if endpoint else None
        )
        return found

    def received_posts(self, endpoint: str) -> list[dict[str, Any]]:
        """POSTs to ``endpoint`` that arrived whole: a sender killed before its body was sent
        leaves a 499 record, a request GitLab never saw."""
        return [r for r in self.requests(endpoint) if r["method"] == "POST" and r["status"] != 499]

    def projects(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", "/projects")
        return found

    def project(self, path: str) -> dict[str, Any]:
        for project in self.projects():
            if project.get("path_with_namespace") == path:
                return project
        raise AssertionError(f"no project {path} on {self.name}")


SIGNAL_SCRIPT = """
import os, sys
container, number = sys.argv[1], int(sys.argv[2])
found = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cgroup") as cgroups:
            if container in cgroups.read():
                found.append(int(pid))
    except OSError:
        pass
for pid in found:
    os.kill(pid, number)
print(" ".join(map(str, found)))
"""


class NodeSignals:
    """Signals a container's processes as the kernel would deliver them (SIGKILL, SIGSTOP),
    from a Pod in the node's PID namespace (``hostPID``): the processes whose cgroup names the
    container's id. Kubernetes itself only ever asks politely (SIGTERM)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._pods: dict[str, str] = {}

    def _pod_on(self, node: str) -> str:
        if node in self._pods:
            return self._pods[node]
        name = f"signals-{node}"[:63].rstrip("-.")
        env = self.cluster.env
        self.cluster.apply(
            _manifests(
                "node-signals.yaml",
                name=name,
                namespace=TESTBED_NAMESPACE,
                node=node,
                image=env.testbed_image,
                pull_policy=env.pull_policy,
            )
        )
        self.cluster.kubectl(
            "wait", "--for=condition=Ready", f"pod/{name}", "-n", TESTBED_NAMESPACE,
            "--timeout=120s", timeout=150,
        )  # fmt: skip
        self._pods[node] = name
        return name

    def close(self) -> None:
        for name in self._pods.values():
            self.cluster.kubectl(
                "delete", "pod", name, "-n", TESTBED_NAMESPACE, "--ignore-not-found",
                "--wait=false", check=False,
            )  # fmt: skip
        self._pods.clear()

    def send(self, pod: Mapping[str, Any], signal: int) -> list[int]:
        """Send ``signal`` to the processes of ``pod``'s container; their node-level pids."""
        container = container_id(pod)
        assert container, f"pod {pod['metadata']['name']} has no running container"
        killer = self._pod_on(pod["spec"]["nodeName"])
        result = self.cluster.kubectl(
            "exec", "-n", TESTBED_NAMESPACE, killer, "--", "python3", "-c", SIGNAL_SCRIPT,
            container, str(signal),
        )  # fmt: skip
        pids = [int(pid) for pid in result.stdout.split()]
        assert pids, f"no process of container {container} on {pod['spec']['nodeName']}"
        return pids


# -- migrations -----------------------------------------------------------------------------


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


def fleet_seed(groups: int, per_group: int) -> dict[str, Any]:
    """A source GitLab with ``groups * per_group`` small projects."""
    return {
        "users": [{"username": "root", "token": ROOT_TOKEN, "admin": True}],
        "groups": [{"path": f"team-{g}"} for g in range(groups)],
        "projects": [
            {
                "path_with_namespace": f"team-{g}/service-{p}",
                "owner": "root",
                "repository_size": "8KiB",
                "relations": {"issues": 3, "milestones": 1},
            }
            for g in range(groups)
            for p in range(per_group)
        ],
    }


def destination_seed(groups: int) -> dict[str, Any]:
    return {
        "users": [{"username": "root", "token": ROOT_TOKEN, "admin": True}],
        "groups": [{"path": f"team-{g}"} for g in range(groups)],
        "projects": [],
    }


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
